"""Every command-line option, declared once: its flag, `CI_SCAN_<NAME>` variable, settings field and README row.

`cli.py` turns these into click options; `Settings.build` reads them by field name; a test checks that
the README holds each option's row exactly as `readme_row` writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ci_scan.choices import FAIL_ON_CHOICES, TAG_MODES
from ci_scan.formats import REPORTS


@dataclass(frozen=True)
class Option:
    field: str
    """The settings field, also the option's name (`fail_on` -> `--fail-on`, `CI_SCAN_FAIL_ON`)."""
    help: str
    metavar: str = ""
    default: Any = None
    readme_default: str = ""
    is_flag: bool = False
    negatable: bool = False
    """A `--x/--no-x` pair."""
    choices: tuple[str, ...] = ()
    integer: bool = False
    number: bool = False
    multiple: bool = False
    extra_env: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    """Older names of the option's flag (`cancel_on_timeout` for `--cancel-on-timeout`), still accepted."""

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def envvars(self) -> tuple[str, ...]:
        return (f"CI_SCAN_{self.field.upper()}", *self.extra_env)

    def click_param(self) -> click.Option:
        flags = [f"{self.flag}/--no-{self.flag[2:]}"] if self.negatable else [self.flag]
        for alias in self.aliases:
            name = alias.replace("_", "-")
            flags.append(f"--{name}/--no-{name}" if self.negatable else f"--{name}")
        kwargs: dict[str, Any] = {"envvar": list(self.envvars), "show_envvar": True, "help": self.help}
        if self.is_flag and not self.negatable:
            kwargs["is_flag"] = True
        elif self.negatable:
            kwargs["default"] = bool(self.default)
        else:
            kwargs["default"] = self.default
            if self.choices:
                kwargs["type"] = click.Choice(self.choices, case_sensitive=False)
            elif self.integer:
                kwargs["type"] = int
            elif self.number:
                kwargs["type"] = float
            if self.metavar:
                kwargs["metavar"] = self.metavar
        if self.multiple:
            kwargs["multiple"] = True
        return click.Option([*flags, self.field], **kwargs)

    def readme_row(self) -> str:
        flag = f"{self.flag} / --no-{self.flag[2:]}" if self.negatable else self.flag
        shown = f"`{flag} {self.metavar}`" if self.metavar and not self.is_flag else f"`{flag}`"
        variables = ", ".join(f"`{v}`" for v in self.envvars)
        # An actual default value is code; words such as "off" or "matched by host" are prose.
        literal = self.default is not None and not self.negatable
        default = f"`{self.readme_default}`" if literal and self.readme_default else self.readme_default
        return f"| {shown} | {variables} | {default} | {self.help} |"


CONSOLE = (
    Option("console_url", "Console address; https:// is assumed when no scheme is given.", "URL",
           extra_env=("DEEPFENCE_CONSOLE_URL",)),
    Option("api_token", "The console API key (Settings > User Management); prefer the variable to the option.",
           "TOKEN", extra_env=("DEEPFENCE_API_TOKEN",)),
    Option("insecure", "Do not verify the console's TLS certificate.", is_flag=True, readme_default="off"),
    Option("ca_bundle", "Verify the console with these CA certificates (PEM); REQUESTS_CA_BUNDLE, SSL_CERT_FILE and "
           "SSL_CERT_DIR are read when it is not given.", "PATH", readme_default="system CAs"),
    Option("allow_insecure_http", "Allow a plain http:// console URL on another machine, which sends the API token "
           "unencrypted (a console on this machine needs no flag).", is_flag=True, readme_default="off"),
    Option("debug", "Log every request on standard error: method, path, status, time and size (never a body or a "
           "token).", is_flag=True, readme_default="off"),
)
WAITING = (
    Option("scan_type", "What to scan for, comma separated: vulnerability, secret, malware; each kind is its own "
           "scan on the console, and all are gated together.", "LIST", default="vulnerability",
           readme_default="vulnerability"),
    Option("timeout", "How long the whole run may take: registry sync, scans and fetching their findings (90s, "
           "30m, 1h30m); stopping the scans it started may take 5s more.", "DURATION",
           default="30m", readme_default="30m"),
    Option("poll_interval", "The longest pause between status checks (every 2s at first, then a tenth of the time "
           "waited so far; never less than 1s apart).", "DURATION",
           default="15s", readme_default="15s"),
    Option("page_size", "Findings fetched per request (1 to 1000).", "N", default=1000, readme_default="1000",
           integer=True),
    Option("max_parallel", "Targets whose findings are fetched at the same time.", "N", default=4,
           readme_default="4", integer=True),
    Option("settle_time", "How long a finished scan's findings must stay unchanged before they are gated (the "
           "console writes them in batches, every 10s).", "DURATION", default="10s", readme_default="10s"),
    Option("cancel", "Stop the console scans this run started when --timeout runs out or the job is cancelled "
           "(SIGINT, SIGTERM); never scans it joined or reused. --no-cancel leaves them running for the next run "
           "to pick up. --cancel-on-timeout is the older name.", negatable=True, default=True, readme_default="on",
           extra_env=("CI_SCAN_CANCEL_ON_TIMEOUT",), aliases=("cancel_on_timeout",)),
    Option("on_error", "What a run exits with when the console cannot be reached, fails or times out: fail (3 or "
           "4) or pass (0, with a loud warning and reports that say no verdict was reached). A failed gate still "
           "exits 1, bad data 3.", "MODE", default="fail", readme_default="fail", choices=("fail", "pass")),
)
POLICY = (
    Option("policy", "The policy file: the options below, scoped to images if wanted (YAML; see The policy "
           "file). An option given on the command line or in its variable overrides the file.", "PATH",
           readme_default=".ci-scan.yml when present"),
    Option("fail_on", "Fail on any counted finding at or above this severity ('unknown' is every finding); 'none' "
           "switches the threshold off, not the other criteria.", "LEVEL",
           readme_default="critical, unless another criterion is given", choices=FAIL_ON_CHOICES),
    *(Option(f"max_{key}", f"Fail when more than N {key} findings count (N itself passes).", "N", integer=True)
      for key in ("critical", "high", "medium", "low")),
    Option("max_total", "Fail when more than N findings count, of any severity.", "N", integer=True),
    Option("max_secrets", "Fail when more than N secrets count (a --scan-type secret scan's findings; 0: any "
           "secret fails).", "N", integer=True),
    Option("max_malware", "Fail when more than N malware findings count (a --scan-type malware scan's; 0: any "
           "fails).", "N", integer=True),
    Option("fail_on_count", "package-scanner's -fail-on-count: fail when N or more findings count (0 or -1: off).",
           "N", integer=True),
    *(Option(f"fail_on_{key}_count", f"package-scanner's -fail-on-{key}-count: fail when N or more {key} findings "
             "count (0 or -1: off).", "N", integer=True)
      for key in ("critical", "high", "medium", "low")),
    Option("fail_on_score", "package-scanner's -fail-on-score: fail when the cumulative score (the sum of "
           "cve_overall_score / 50, at most 10) is X or more (0 or -1: off).", "X", number=True),
    Option("fail_on_kev", "Fail on any counted finding in CISA's Known Exploited Vulnerabilities catalogue.",
           negatable=True, default=False, readme_default="off"),
    Option("fail_on_exploit", "Fail on any counted finding with a known exploit.", negatable=True, default=False,
           readme_default="off"),
    Option("fail_on_epss", "Fail on any counted finding whose EPSS probability is X or more (0 < X <= 1).", "X",
           number=True),
    Option("only_network", "Count only vulnerabilities reachable over the network (for every criterion).",
           negatable=True, default=False, readme_default="off"),
    Option("only_live", "Count only vulnerabilities on nodes with live connections (for every criterion).",
           negatable=True, default=False, readme_default="off"),
    Option("ignore_unfixed", "Findings with no fixed version never fail the gate (they are still reported).",
           negatable=True, default=False, readme_default="off"),
    Option("ignore_file", "Accepted findings, each with a reason and an optional expiry (YAML; see Ignoring "
           "findings).", "PATH", readme_default=".ci-scan-ignore.yml when present"),
    Option("vex", "An OpenVEX document; its not_affected and fixed statements suppress the findings they match "
           "(repeat the option, or separate paths with spaces in the variable).", "PATH", multiple=True,
           readme_default="none"),
    Option("baseline_scan_id", "Fail only on findings this earlier scan did not have (matched by rule id, package "
           "name and path).", "SCAN_ID", readme_default="none"),
    Option("baseline_image", "Fail only on findings the latest COMPLETE scan of this image did not have.", "REF",
           readme_default="none"),
    Option("baseline_report", "Fail only on findings this earlier ci-scan JSON report did not have, for the same "
           "repository.", "PATH", readme_default="none"),
)
STARTING = (
    Option("languages", "Scan languages, comma separated: base, java, python, ruby, php, javascript, rust, "
           "rust-binary, golang, golang-binary, dotnet.", "LIST", readme_default="all"),
    Option("sync", "Sync the registry first, so the console sees tags pushed since its last sync (admin token).",
           negatable=True, default=False, readme_default="off"),
)
REPORT_OPTIONS = (
    *(Option(spec.name, spec.description, "PATH") for spec in REPORTS),
    *(Option(name, text, "TEXT") for spec in REPORTS for name, text in spec.options.items()),
)
"""Each report's path, then the renderers' own options."""
IMAGES = (
    Option("images_from", "Read more image references from this file, one a line ('#' comments; '-' is standard "
           "input).", "FILE"),
    Option("registry", "The registry account (name or node id) to look the images up in.", "NAME_OR_NODE_ID",
           readme_default="matched by host"),
    Option("dockerfile", "The Dockerfile the image was built from: SARIF results point at it, base-image packages "
           "at its FROM line (one image only).", "PATH", readme_default="./Dockerfile if one image is scanned"),
    Option("reuse_within", "Gate on an image's latest COMPLETE scan when it is younger than this, instead of "
           "starting one.", "DURATION", readme_default="off"),
)
REGISTRY = (
    Option("tags", "Which tags of each repository: latest (the tag 'latest'), recent (the last pushed), all.",
           "MODE", default="latest", readme_default="latest", choices=TAG_MODES),
    Option("repository", "Only these repositories, as the console names them (repeat the option).", "REPO",
           multiple=True, readme_default="all"),
)
NODES = (
    Option("wait_for_node", "Wait this long for a freshly started node to register with a running agent, then "
           "scan it (a provisioning pipeline keeps or tears down the node by the exit code).", "DURATION",
           readme_default="no wait"),
)
SWEEPING = (
    Option("type", "What the sweep scans, comma separated: host, container, image (each registry's images, by "
           "--tags).", "LIST", default="host,container,image", readme_default="host,container,image"),
    REGISTRY[0],
)
WATCHING = (
    Option("node_type", "Which new nodes to gate, comma separated: host, container.", "LIST", default="host",
           readme_default="host"),
    Option("on_fail_exec", "Run this shell command for each node that fails the gate; the node's id, name, type, "
           "verdict and cloud instance id are in its environment (CI_SCAN_NODE_ID...), never in its text.", "CMD",
           readme_default="none"),
    Option("duration", "Watch this long, then exit 0.", "DURATION", readme_default="until stopped"),
)
COMMON = (*CONSOLE, *POLICY, *WAITING, *REPORT_OPTIONS)
"""The options of every command that gates."""


def apply(options: tuple[Option, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command's function `options`, in order, after its arguments: its LazyCommand builds them."""
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        # Stacked: the upper decorator's options come first, as click's own decorators order them.
        function.__ci_scan_options__ = (*options, *getattr(function, "__ci_scan_options__", ()))  # type: ignore[attr-defined]
        return function
    return decorate


class LazyCommand(click.Command):
    """A command whose options (up to 53 each) are built the first time click asks for them, to parse the
    command or show its help: `ci-scan --help` and the other commands never pay for them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pending: tuple[Option, ...] = ()
        super().__init__(*args, **kwargs)
        self._pending = getattr(self.callback, "__ci_scan_options__", ())

    @property
    def params(self) -> list[click.Parameter]:
        if self._pending:
            built = [option.click_param() for option in self._pending]  # all of them, or none
            self._pending = ()
            self._params.extend(built)
        return self._params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._params = value
EVERY_OPTION = tuple(dict.fromkeys((*COMMON, *STARTING, *IMAGES, *REGISTRY, *NODES, *SWEEPING, *WATCHING)))
"""Each option once, in README order."""
