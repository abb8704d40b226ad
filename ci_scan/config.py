"""Settings for one run, validated as a whole; every problem is a ConfigError (exit 2)."""

from __future__ import annotations

import os
import re
import ssl
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from ci_scan.baseline import Baseline, BaselineRequest
from ci_scan.choices import LANGUAGES, MAX_PAGE_SIZE, MAX_PARALLEL
from ci_scan.decision import OnError, Policy
from ci_scan.dockerfile import Dockerfile, find_default
from ci_scan.dockerfile import load as load_dockerfile
from ci_scan.errors import ConfigError
from ci_scan.hosts import is_loopback
from ci_scan.kinds import SCAN_KINDS, ScanKind
from ci_scan.models import ImageRef, ImageRefError
from ci_scan.policy_inputs import assemble
from ci_scan.scan import POLL_FLOOR, ScanOptions

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """`90s`, `30m`, `1h30m` or plain seconds -> seconds; `0` only where `allow_zero`."""
    compact = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(compact):
        part = _DURATION_PART.match(compact, pos)
        if not part:
            break
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        pos = part.end()
    if not compact or pos != len(compact) or total < 0 or (total == 0 and not allow_zero):
        raise ConfigError(f"invalid duration {text!r}: use e.g. 90s, 30m or 1h30m")
    return total


def normalise_console_url(url: str) -> str:
    """Accept `console.example.com`, `https://console.example.com/` or `.../deepfence`."""
    url = url.strip()
    if not url:
        raise ConfigError("no console URL: pass --console-url or set DEEPFENCE_CONSOLE_URL")
    if "://" not in url:
        url = f"https://{url}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"invalid console URL {url!r}: expected https://<console-host>[:port]")
    if parts.username or parts.password:
        raise ConfigError("the console URL must not carry credentials: pass the API token with --api-token")
    path = parts.path.rstrip("/").removesuffix("/deepfence")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _check_ca_bundle(path: str, source: str) -> None:
    directory = source == "SSL_CERT_DIR"
    if not (os.path.isdir(path) if directory else os.path.isfile(path)):
        what = "a readable directory" if directory else "a readable file"
        raise ConfigError(f"{source} {path!r} is not {what}",
                          hint="point it at the CA certificates (PEM) that sign the console's certificate, or unset it")
    try:
        ssl.create_default_context(capath=path) if directory else ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"{source} {path!r} holds no usable PEM certificates ({exc})") from None


CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
"""Where the CA certificates may come from besides --ca-bundle, first found first (as requests and OpenSSL
read them); without any, the system's."""


def _ca_source(ca_bundle: str | None, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The CA bundle (a file, or SSL_CERT_DIR's directory) to verify the console with, and where it was set."""
    if ca_bundle:
        return ca_bundle, "--ca-bundle"
    return next(((environ[name], name) for name in CA_VARIABLES if environ.get(name, "").strip()), None)


@dataclass(frozen=True)
class ImageScan:
    refs: tuple[ImageRef, ...]


@dataclass(frozen=True)
class RegistryScan:
    registry: str
    tags: str = "latest"
    repositories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExistingScans:
    scan_ids: tuple[str, ...]


@dataclass(frozen=True)
class NodeScan:
    """Hosts or containers the console's agents discovered, by name or node id."""

    node_type: str
    """`host` or `container`."""
    names: tuple[str, ...]
    wait_for: float | None = None
    """`--wait-for-node`: seconds to wait for a node to register with a running agent."""


def read_node_names(node_type: str, names: Sequence[str], wait_for_node: str | None) -> NodeScan:
    cleaned = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    bad = [name for name in cleaned if not name.isprintable()]
    if bad:
        raise ConfigError(f"{bad[0]!r} is not a {node_type} name")
    if not cleaned:
        raise ConfigError(f"no {node_type} to scan: give its name or node id")
    return NodeScan(node_type, cleaned, parse_duration(wait_for_node) if wait_for_node else None)


@dataclass(frozen=True)
class Sweep:
    """`scan all`: every node of these types."""

    node_types: tuple[str, ...]
    tags: str = "latest"


SWEEP_TYPES = ("host", "container", "image")


def read_sweep(types: str, tags: str) -> Sweep:
    chosen = [part.strip().lower() for part in types.split(",") if part.strip()]
    unknown = [t for t in chosen if t not in SWEEP_TYPES]
    if unknown or not chosen:
        raise ConfigError(f"unknown --type {', '.join(unknown) or '(none given)'}; choose from "
                          f"{', '.join(SWEEP_TYPES)}")
    return Sweep(tuple(dict.fromkeys(chosen)), tags.lower())


Request = ImageScan | RegistryScan | ExistingScans | NodeScan | Sweep
"""What a run gates on."""


def read_image_refs(arguments: Sequence[str], images_from: str | None, stdin: TextIO | None = None) -> ImageScan:
    """The images named on the command line and in `images_from` (one a line, `#` comments, `-` stdin)."""
    entries = [(ref, "") for ref in arguments]
    if images_from:
        entries += [(line, where) for line, where in _file_lines(images_from, stdin or sys.stdin)]
    refs: dict[str, ImageRef] = {}
    problems = []
    for text, where in entries:
        try:
            ref = ImageRef.parse(text)
        except ImageRefError as exc:
            problems.append(f"{where}{exc}")
            continue
        refs.setdefault(str(ref), ref)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError("; ".join(problems[:3]) + more)
    if not refs:
        raise ConfigError("no image to scan: give IMAGE_REF arguments, set CI_SCAN_IMAGE, or use --images-from FILE")
    return ImageScan(tuple(refs.values()))


def _file_lines(path: str, stdin: TextIO) -> list[tuple[str, str]]:
    name = "standard input" if path == "-" else path
    try:
        text = stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read --images-from {name}: {reason}") from None
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip(" \t")
        if entry:
            lines.append((entry, f"{name} line {number}: "))
    return lines


def read_scan_ids(arguments: Sequence[str]) -> ExistingScans:
    ids = tuple(dict.fromkeys(a.strip() for a in arguments if a.strip()))
    bad = [i for i in ids if not i.isprintable() or " " in i]
    if bad:
        raise ConfigError(f"{bad[0]!r} is not a scan id; scan ids look like <node id>-<unix seconds>")
    if not ids:
        raise ConfigError("no scan id given")
    return ExistingScans(ids)


def parse_scan_types(text: str) -> tuple[ScanKind, ...]:
    """`--scan-type vulnerability,secret`: the kinds, each once, in the console's order."""
    chosen = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(SCAN_KINDS))
    if unknown or not chosen:
        raise ConfigError(f"unknown --scan-type {', '.join(unknown) or '(none given)'}; choose from "
                          f"{', '.join(SCAN_KINDS)} (comma separated)")
    return tuple(kind for name, kind in SCAN_KINDS.items() if name in chosen)


@dataclass(frozen=True)
class Connection:
    """How to reach the console: every command that talks to it."""

    console_url: str
    api_token: str = field(repr=False)
    verify: bool | str = True
    """True (the system's CAs), False (--insecure), or the CA bundle file or directory to verify with."""
    debug: bool = False
    notices: tuple[str, ...] = ()
    """Warnings to say at the start of the run (--insecure, plain http)."""


def connection(*, console_url: str | None, api_token: str | None, insecure: bool = False,
               ca_bundle: str | None = None, allow_insecure_http: bool = False, debug: bool = False,
               environ: Mapping[str, str] | None = None) -> Connection:
    """The console URL, token and TLS verification, checked. The token is never sent in plain text over a
    network without --allow-insecure-http."""
    token = (api_token or "").strip()
    if not token:
        raise ConfigError("no API token: pass --api-token or set DEEPFENCE_API_TOKEN")
    if insecure and ca_bundle:
        raise ConfigError("--insecure and --ca-bundle contradict each other: choose one")
    url = normalise_console_url(console_url or "")
    parts = urlsplit(url)
    notices = []
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        if not allow_insecure_http:
            raise ConfigError(
                f"the console URL {url} is plain http:// on another machine: the API token would cross the "
                "network unencrypted",
                hint="use https://, or pass --allow-insecure-http if the network between CI and the console is trusted")
        notices.append(f"Warning: the API token goes to {url} unencrypted (--allow-insecure-http)")
    verify: bool | str = True
    if insecure:
        notices.append("Warning: --insecure: the console's TLS certificate is not verified, so anyone on the "
                       "network path could read the API token and forge the findings")
        verify = False
    elif (source := _ca_source(ca_bundle, os.environ if environ is None else environ)) is not None:
        _check_ca_bundle(*source)
        verify = source[0]
    return Connection(url, token, verify, debug, tuple(notices))


@dataclass(frozen=True)
class Settings:
    console_url: str
    api_token: str = field(repr=False)
    request: Request
    policy: Policy
    scan: ScanOptions
    reports: tuple[tuple[str, str], ...] = ()
    """(format name, path) pairs; `-` is standard output."""
    verify: bool | str = True
    report_options: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Each report's own options (e.g. the SARIF category), by report name; only those given."""
    given: Mapping[str, str] = field(default_factory=dict)
    """The options given, each by `flag` or `env` (its variable); the rest are defaults."""
    baseline: BaselineRequest | None = None
    """A baseline on the console, fetched when the run starts."""
    loaded_baseline: Baseline | None = None
    """A baseline read from an earlier report."""
    dockerfile: Dockerfile | None = None
    """The image's Dockerfile, which SARIF results point at."""
    on_error: OnError = "fail"
    """`--on-error`: `pass` lets a run the console kept from a verdict exit 0."""
    debug: bool = False
    """`--debug`: a line on standard error per request."""
    notices: tuple[str, ...] = ()
    """Warnings about the settings, said when the run starts."""

    @classmethod
    def build(
        cls,
        *,
        console_url: str | None,
        api_token: str | None,
        request: Request,
        policy: Mapping[str, object] | None = None,
        timeout: str = "30m",
        registry: str | None = None,
        sync: bool = False,
        languages: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        poll_interval: str = "15s",
        settle_time: str = "10s",
        max_parallel: int = 4,
        reuse_within: str | None = None,
        cancel: bool = True,
        on_error: str = "fail",
        allow_insecure_http: bool = False,
        debug: bool = False,
        poll_floor: float = POLL_FLOOR,
        reports: Mapping[str, str | None] | None = None,
        report_options: Mapping[str, Mapping[str, str | None]] | None = None,
        insecure: bool = False,
        ca_bundle: str | None = None,
        given: Mapping[str, str] | None = None,
        dockerfile: str | None = None,
        default_dockerfile: bool = False,
        scan_type: str = "vulnerability",
    ) -> Settings:
        """`policy` holds the policy options by settings field (`fail_on`, `max_high`, `vex`...); `given`
        names the options given on the command line (`flag`) or in their variable (`env`).
        `default_dockerfile` looks for `./Dockerfile` when `dockerfile` is not given (`scan image` does)."""
        reached = connection(console_url=console_url, api_token=api_token, insecure=insecure, ca_bundle=ca_bundle,
                             allow_insecure_http=allow_insecure_http, debug=debug)
        notices = list(reached.notices)
        inputs = assemble(policy or {}, given or {})
        chosen = tuple(lang.strip() for lang in (languages or ",".join(LANGUAGES)).split(",") if lang.strip())
        unknown = [lang for lang in chosen if lang not in LANGUAGES]
        if unknown or not chosen:
            raise ConfigError(
                f"unknown scan language(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(LANGUAGES)}"
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"--page-size must be between 1 and {MAX_PAGE_SIZE}")
        if not 1 <= max_parallel <= MAX_PARALLEL:
            raise ConfigError(f"--max-parallel must be between 1 and {MAX_PARALLEL}")
        poll = parse_duration(poll_interval)
        if poll < poll_floor:
            notices.append(f"Warning: --poll-interval {poll_interval} is below the floor of {poll_floor:g}s; "
                           f"the console is asked at most every {poll_floor:g}s")
        if on_error.lower() not in ("fail", "pass"):
            raise ConfigError(f"--on-error must be fail or pass, not {on_error!r}")
        kinds = parse_scan_types(scan_type)
        if isinstance(request, ExistingScans) and len(kinds) > 1:
            raise ConfigError("`results` gates scans of one kind: give --scan-type one kind (the kind of those scans)")
        outputs = tuple((name, path) for name, path in (reports or {}).items() if path)
        images = len(request.refs) if isinstance(request, ImageScan) else 0
        return cls(
            console_url=reached.console_url,
            api_token=reached.api_token,
            request=request,
            policy=inputs.policy,
            baseline=inputs.baseline,
            loaded_baseline=inputs.loaded_baseline,
            scan=ScanOptions(
                timeout=parse_duration(timeout),
                registry=registry or None,
                sync=sync,
                languages=chosen,
                page_size=page_size,
                poll_initial=max(min(2.0, poll), poll_floor),
                poll_max=max(poll, poll_floor),
                poll_floor=poll_floor,
                cancel=cancel,
                max_parallel=max_parallel,
                reuse_within=parse_duration(reuse_within) if reuse_within else None,
                settle_time=parse_duration(settle_time, allow_zero=True),
                kind=kinds[0],
                kinds=kinds,
            ),
            reports=outputs,
            verify=reached.verify,
            on_error="pass" if on_error.lower() == "pass" else "fail",
            debug=debug,
            notices=tuple(notices),
            report_options={
                name: {key: value for key, value in options.items() if value}
                for name, options in (report_options or {}).items()
            },
            given=dict(given or {}),
            dockerfile=(load_dockerfile(dockerfile, image_count=images) if dockerfile
                        else find_default(image_count=images) if default_dockerfile else None),
        )
