"""Settings for one run, validated as a whole; every problem is a ConfigError (exit 2)."""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ci_scan.errors import ConfigError
from ci_scan.gate import Policy
from ci_scan.models import ImageRef, ImageRefError
from ci_scan.scan import LANGUAGES, MAX_PAGE_SIZE, ScanOptions

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `1h30m` or plain seconds -> seconds."""
    compact = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(compact):
        part = _DURATION_PART.match(compact, pos)
        if not part:
            break
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        pos = part.end()
    if not compact or pos != len(compact) or total <= 0:
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


def _check_ca_bundle(path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"--ca-bundle {path!r} is not a readable file")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"--ca-bundle {path!r} holds no usable PEM certificates ({exc})") from None


@dataclass(frozen=True)
class Settings:
    console_url: str
    api_token: str = field(repr=False)
    image: ImageRef
    policy: Policy
    scan: ScanOptions
    reports: tuple[tuple[str, str], ...] = ()
    """(format name, path) pairs; `-` is standard output."""
    verify: bool | str = True

    @classmethod
    def build(
        cls,
        *,
        console_url: str | None,
        api_token: str | None,
        image: str,
        fail_on: str = "critical",
        timeout: str = "30m",
        registry: str | None = None,
        sync: bool = False,
        languages: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        poll_max: str = "15s",
        cancel_on_timeout: bool = False,
        reports: dict[str, str | None] | None = None,
        insecure: bool = False,
        ca_bundle: str | None = None,
    ) -> Settings:
        token = (api_token or "").strip()
        if not token:
            raise ConfigError("no API token: pass --api-token or set DEEPFENCE_API_TOKEN")
        try:
            ref = ImageRef.parse(image)
        except ImageRefError as exc:
            raise ConfigError(str(exc)) from None
        try:
            policy = Policy.from_fail_on(fail_on)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        chosen = tuple(lang.strip() for lang in (languages or ",".join(LANGUAGES)).split(",") if lang.strip())
        unknown = [lang for lang in chosen if lang not in LANGUAGES]
        if unknown or not chosen:
            raise ConfigError(
                f"unknown scan language(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(LANGUAGES)}"
            )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"--page-size must be between 1 and {MAX_PAGE_SIZE}")
        if insecure and ca_bundle:
            raise ConfigError("--insecure and --ca-bundle contradict each other: choose one")
        if ca_bundle:
            _check_ca_bundle(ca_bundle)
        poll = parse_duration(poll_max)
        outputs = tuple((name, path) for name, path in (reports or {}).items() if path)
        if sum(path == "-" for _, path in outputs) > 1:
            raise ConfigError("only one report can go to standard output ('-')")
        return cls(
            console_url=normalise_console_url(console_url or ""),
            api_token=token,
            image=ref,
            policy=policy,
            scan=ScanOptions(
                timeout=parse_duration(timeout),
                registry=registry or None,
                sync=sync,
                languages=chosen,
                page_size=page_size,
                poll_initial=min(2.0, poll),
                poll_max=poll,
                cancel_on_timeout=cancel_on_timeout,
            ),
            reports=outputs,
            verify=False if insecure else (ca_bundle or True),
        )
