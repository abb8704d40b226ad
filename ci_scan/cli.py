"""The `ci-scan` command: options (declared once, in `options`) -> settings -> app -> exit."""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

import click

from ci_scan import __version__, options
from ci_scan.choices import FAIL_ON_CHOICES
from ci_scan.errors import CiScanError, ExitCode, redact


def _env(name: str, *extra: str) -> list[str]:
    return [f"CI_SCAN_{name}", *extra]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="ci-scan")
def cli() -> None:
    """Gate CI pipelines on Deepfence ThreatMapper / ThreatStryker vulnerability scans.

    Exit codes: 0 gate passed, 1 gate failed, 2 usage or configuration error,
    3 scan could not be completed, 4 timed out, 130 or 143 stopped by SIGINT or SIGTERM.
    """


@cli.group()
def scan() -> None:
    """Scan something on the console and gate on the findings."""


IMAGE_OPTIONS = (*options.COMMON, *options.STARTING, *options.IMAGES)
REGISTRY_OPTIONS = (*options.COMMON, *options.STARTING, *options.REGISTRY)
RESULTS_OPTIONS = options.COMMON
NODE_OPTIONS = (*options.COMMON, *options.STARTING, *options.NODES)


@scan.command("image", cls=options.LazyCommand)
@click.argument("image_refs", nargs=-1, metavar="IMAGE_REF...")
@options.apply(IMAGE_OPTIONS)
def scan_image(image_refs: tuple[str, ...], **values: Any) -> None:
    """Scan each IMAGE_REF ([registry/]repo[:tag] or repo@sha256:...) and gate on all their findings.

    The same image given twice is scanned once; if any image is not on the console, nothing is started.
    """
    from ci_scan.config import read_image_refs

    refs = list(image_refs) or os.environ.get("CI_SCAN_IMAGE", "").split()
    request = read_image_refs(refs, values.pop("images_from"))
    _run(request, {**values, "default_dockerfile": True})  # ./Dockerfile, when one image is scanned


@scan.command("registry", cls=options.LazyCommand)
@click.argument("registry")
@options.apply(REGISTRY_OPTIONS)
def scan_registry(registry: str, **values: Any) -> None:
    """Scan the images of the registry account REGISTRY (its name or node id) and gate on them all."""
    from ci_scan.config import RegistryScan

    request = RegistryScan(registry, values.pop("tags").lower(), tuple(values.pop("repository")))
    _run(request, values)


@scan.command("all", cls=options.LazyCommand)
@options.apply((*options.COMMON, *options.STARTING, *options.SWEEPING))
def scan_all(**values: Any) -> None:
    """The sweep: scan every host whose agent runs, every container and each registry's images (by --tags),
    one start request per type, and gate on them all with one verdict."""
    from ci_scan.config import read_sweep

    _run(read_sweep(values.pop("type") or "host,container,image", values.pop("tags") or "latest"), values)


@scan.command("host", cls=options.LazyCommand)
@click.argument("names", nargs=-1, required=True, metavar="HOST...")
@options.apply(NODE_OPTIONS)
def scan_host(names: tuple[str, ...], **values: Any) -> None:
    """Scan each HOST (its host name or node id) that the console's agent reports, and gate on them all.

    A host is scanned only while its agent runs. With --wait-for-node, a host that has not registered yet
    (a freshly started instance) is waited for.
    """
    _scan_nodes("host", names, values)


@scan.command("container", cls=options.LazyCommand)
@click.argument("names", nargs=-1, required=True, metavar="CONTAINER...")
@options.apply(NODE_OPTIONS)
def scan_container(names: tuple[str, ...], **values: Any) -> None:
    """Scan each running CONTAINER (its name or node id) that the console's agents report, and gate on them all."""
    _scan_nodes("container", names, values)


def _scan_nodes(node_type: str, names: tuple[str, ...], values: dict[str, Any]) -> None:
    from ci_scan.config import read_node_names

    _run(read_node_names(node_type, names, values.pop("wait_for_node")), values)


WATCH_OPTIONS = (*options.CONSOLE, *options.POLICY, *options.WAITING, *options.STARTING, *options.WATCHING)


@cli.command(cls=options.LazyCommand)
@options.apply(WATCH_OPTIONS)
def watch(**values: Any) -> None:
    """Gate new hosts and containers as they register with the console, one JSON line per node decided.

    For a node that fails the gate, --on-fail-exec runs your command (e.g. a cloud CLI call that
    terminates the instance); ci-scan itself never deletes anything. Stops on SIGTERM or after --duration.
    """
    from ci_scan.config import NodeScan, Settings, parse_duration
    from ci_scan.watch import WatchOptions, node_types
    from ci_scan.watch import watch as run_watch

    types = node_types(values.pop("node_type") or "host")
    command = values.pop("on_fail_exec") or ""
    duration = values.pop("duration")
    watching = WatchOptions(node_types=types, on_fail_exec=command,
                            duration=parse_duration(duration) if duration else None,
                            interval=parse_duration(values.get("poll_interval") or "15s"))
    policy = {option.field: values.pop(option.field) for option in options.POLICY}
    settings = Settings.build(request=NodeScan(types[0], ()), policy=policy, given=_given(values),
                              poll_floor=_poll_floor(), **values)
    sys.exit(run_watch(settings, watching, out=sys.stdout, say=_say))


@cli.group()
def nodes() -> None:
    """What the console knows: images, hosts, containers, registries."""


@nodes.command("list", cls=options.LazyCommand)
@click.option("--type", "node_type", type=click.Choice(("image", "host", "container", "registry")),
              default="host", envvar=_env("NODE_TYPE"), show_envvar=True, help="Which nodes to list.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@options.apply(options.CONSOLE)
def nodes_list(node_type: str, as_json: bool, **values: Any) -> None:
    """List the console's nodes of one type (every page), for a periodic job to choose what to sweep."""
    _inventory(node_type, as_json, values)


@cli.group()
def registries() -> None:
    """The console's registry accounts."""


@registries.command("list", cls=options.LazyCommand)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@options.apply(options.CONSOLE)
def registries_list(as_json: bool, **values: Any) -> None:
    """List the console's registry accounts: name, type, whether it is syncing, node id."""
    _inventory("registry", as_json, values)


INVENTORY_TIMEOUT = 300.0
"""Seconds a listing may take, retries included."""


def _inventory(node_type: str, as_json: bool, values: dict[str, Any]) -> None:
    from ci_scan.app import open_client
    from ci_scan.config import connection
    from ci_scan.inventory import COLUMNS, node_rows, render

    reached = connection(**values)
    for notice in reached.notices:
        _say(notice)
    with open_client(reached, _say) as client:
        client.wait_until(time.monotonic() + INVENTORY_TIMEOUT)
        client.authenticate()
        rows = node_rows(client, node_type)
    click.echo(render(rows, COLUMNS[node_type], as_json=as_json), nl=False)


@cli.command("results", cls=options.LazyCommand)
@click.argument("scan_ids", nargs=-1, required=True, metavar="SCAN_ID...")
@options.apply(RESULTS_OPTIONS)
def results(scan_ids: tuple[str, ...], **values: Any) -> None:
    """Gate and report on scans that already exist (waiting while they run); starts nothing."""
    from ci_scan.config import read_scan_ids

    _run(read_scan_ids(scan_ids), values)


def _given(values: dict[str, Any]) -> dict[str, str]:
    """Which options were given, each by `flag` or `env` (its variable); the rest are defaults."""
    context = click.get_current_context()
    sources = {click.core.ParameterSource.COMMANDLINE: "flag", click.core.ParameterSource.ENVIRONMENT: "env"}
    return {name: sources[source] for name in values if (source := context.get_parameter_source(name)) in sources}


def _run(request: Any, values: dict[str, Any]) -> None:
    from ci_scan.app import run
    from ci_scan.config import Settings
    from ci_scan.formats import REPORTS

    given = _given(values)
    reports = {spec.name: values.pop(spec.name) for spec in REPORTS}
    renderer_options = {spec.name: {name: values.pop(name) for name in spec.options} for spec in REPORTS}
    policy = {option.field: values.pop(option.field) for option in options.POLICY}
    settings = Settings.build(request=request, reports=reports, report_options=renderer_options, given=given,
                              policy=policy, poll_floor=_poll_floor(), **values)
    sys.exit(run(settings))


def _poll_floor() -> float:
    """The floor under --poll-interval. Only a test suite against the simulator, which moves a scan one step
    per status check rather than by time, lowers it (CI_SCAN_SIMULATOR_POLL_FLOOR, in seconds)."""
    from ci_scan.scan import POLL_FLOOR

    text = os.environ.get("CI_SCAN_SIMULATOR_POLL_FLOOR", "").strip()
    try:
        return max(0.0, float(text)) if text else POLL_FLOOR
    except ValueError:
        return POLL_FLOOR


@cli.group()
def simulator() -> None:
    """A console simulator for dry runs of pipelines (not a real console)."""


@simulator.command("serve")
@click.option("--host", default="127.0.0.1", envvar=_env("SIMULATOR_HOST"), show_envvar=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, envvar=_env("SIMULATOR_PORT"),
              show_envvar=True)
@click.option("--images", type=click.IntRange(0), default=0, envvar=_env("SIMULATOR_IMAGES"), show_envvar=True,
              help="Also serve a registry 'bulk-registry' holding this many images.")
@click.option("--fault", "faults", multiple=True, metavar="SPEC", envvar=_env("SIMULATOR_FAULTS"), show_envvar=True,
              help="Answer some requests badly; repeatable, and ';' separates several SPECs in one value. "
                   "SPEC: PATH=MODE[,times=N|always][,after=K][,status=N], PATH exact or ending in '*'; MODE one of "
                   "http:STATUS, retry-after:SECONDS, reset, trickle:SECONDS (per byte), latency:SECONDS, "
                   "oversized:MIB, gzip-bomb:MIB, malformed, html[:STATUS]. times (default 1, 0 or always: "
                   "every request) and after (requests let through first) count requests to PATH. "
                   "e.g. /deepfence/scan/status/vulnerability=http:503,times=3")
@click.option("--request-log", type=click.Path(dir_okay=False), envvar=_env("SIMULATOR_REQUEST_LOG"),
              show_envvar=True, metavar="FILE",
              help="Append one JSON line per request received (time, method, path, status, fault; never "
                   "headers or bodies).")
@click.option("--access-token-uses", type=click.IntRange(1), envvar=_env("SIMULATOR_ACCESS_TOKEN_USES"),
              show_envvar=True, help="Each access token works for this many authenticated requests, then gets 401.")
@click.option("--fault-images", is_flag=True, envvar=_env("SIMULATOR_FAULT_IMAGES"), show_envvar=True,
              help="Also serve images whose scans leave the spec (registry.example.com/team/queued-remote:1.0 "
                   "reports the status QUEUED_REMOTE).")
def simulator_serve(host: str, port: int, images: int, faults: tuple[str, ...], request_log: str | None,
                    access_token_uses: int | None, fault_images: bool) -> None:
    """Serve the simulated console API over HTTP until interrupted."""
    from ci_scan.simulator import ADMIN_TOKEN, default_dataset, serve_forever
    from ci_scan.simulator.faults import parse_faults

    try:
        parsed = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fault'") from None
    if request_log is not None:
        try:
            open(request_log, "ab").close()
        except OSError as exc:
            problem = f"cannot write {request_log}: {exc.strerror}"
            raise click.BadParameter(problem, param_hint="'--request-log'") from None
    # Only what was given: without any, serve_forever keeps its three-argument form.
    tuning: dict[str, Any] = {"faults": parsed, "request_log": request_log, "access_token_uses": access_token_uses}
    click.echo(f"Console simulator on http://{host}:{port} (API token: {ADMIN_TOKEN})", err=True)
    serve_forever(host, port, default_dataset(extra_images=images, fault_images=fault_images),
                  **{name: value for name, value in tuning.items() if value})


@cli.command()
@click.option("--output-dir", default="ci-scan-demo", type=click.Path(file_okay=False),
              envvar=_env("DEMO_OUTPUT_DIR"), show_envvar=True, help="Where the demo writes its reports.")
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES, case_sensitive=False), default="critical",
              envvar=_env("FAIL_ON"), show_envvar=True)
def demo(output_dir: str, fail_on: str) -> None:
    """Scan a sample image through the simulator over real HTTP and write every report."""
    from ci_scan.demo import run_demo

    sys.exit(run_demo(output_dir, fail_on))


def _scrub(text: str) -> str:
    """Remove any API token the user may have given from `text`."""
    secrets = [os.environ.get(n, "") for n in ("CI_SCAN_API_TOKEN", "DEEPFENCE_API_TOKEN")]
    args = sys.argv
    secrets += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--api-token"]
    secrets += [a.split("=", 1)[1] for a in args if a.startswith("--api-token=")]
    return redact(text, secrets)


def _say(line: str) -> None:
    """One line on standard error, neutralised: it may quote the user's input or the console."""
    from ci_scan.sanitize import for_log, neutral_line_start

    click.echo(neutral_line_start(for_log(line)), err=True)


GC_THRESHOLDS = (20_000, 50, 10)
"""A run builds hundreds of thousands of small objects (findings, then the reports' documents) that live
until it ends; at Python's default thresholds (700, 10, 10) the young generations were collected, and
the findings walked, every few hundred of them, and the whole heap a few times: a fifth of a big run's
CPU. Young collections are rarer now; the oldest generation's schedule is Python's own."""


def main() -> None:
    """Entry point: one line per error, documented exit codes, never a traceback."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        code = cli.main(prog_name="ci-scan", standalone_mode=False)
    except click.exceptions.Abort:  # SIGINT before a run took over the signals
        click.echo("ci-scan: aborted", err=True)
        code = ExitCode.INTERRUPTED
    except click.ClickException as exc:
        _say(f"ci-scan: error: {exc.format_message()} (see ci-scan --help)")
        code = ExitCode.USAGE
    except CiScanError as exc:
        _say(f"ci-scan: error: {exc.one_line()}")
        code = exc.exit_code
    except SystemExit as exc:  # a run: it wrote its own step outputs
        sys.exit(int(exc.code if isinstance(exc.code, int) else ExitCode.SCAN_INCOMPLETE))
    except Exception as exc:  # a bug must never read as "findings" (exit 1)
        detail = _scrub(f"{type(exc).__name__}: {exc}")
        _say(f"ci-scan: internal error: {detail} (please report this)")
        code = ExitCode.SCAN_INCOMPLETE
    _outputs_without_a_run(ExitCode(int(code or 0)))
    sys.exit(int(code or 0))


def _outputs_without_a_run(code: ExitCode) -> None:
    """In GitHub Actions, the step outputs of a command that ended before any run (bad options: exit 2)."""
    if code == ExitCode.PASSED or not os.environ.get("GITHUB_OUTPUT", "").strip():
        return  # the help and version path: nothing to write, nothing more to import
    from ci_scan.ci_env import detect, step_outputs, write_github_outputs

    ci = detect(os.environ)
    if ci.github_output:
        if problem := write_github_outputs(ci.github_output, step_outputs(None, code, [])):
            _say(f"Warning: {problem}")
