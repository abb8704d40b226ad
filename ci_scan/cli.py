"""The `ci-scan` command: options (each also from an environment variable) -> settings -> app -> exit."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ci_scan import __version__
from ci_scan.errors import CiScanError, ExitCode, redact
from ci_scan.gate import FAIL_ON_CHOICES


def _env(name: str, *extra: str) -> list[str]:
    return [f"CI_SCAN_{name}", *extra]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="ci-scan")
def cli() -> None:
    """Gate CI pipelines on Deepfence ThreatMapper / ThreatStryker vulnerability scans.

    Exit codes: 0 gate passed, 1 gate failed, 2 usage or configuration error,
    3 scan could not be completed, 4 timed out waiting for the scan.
    """


@cli.group()
def scan() -> None:
    """Scan something on the console and gate on the findings."""


@scan.command("image")
@click.argument("image_ref", envvar="CI_SCAN_IMAGE")
@click.option("--console-url", envvar=_env("CONSOLE_URL", "DEEPFENCE_CONSOLE_URL"), show_envvar=True,
              help="Console address, e.g. https://deepfence.example.com.")
@click.option("--api-token", envvar=_env("API_TOKEN", "DEEPFENCE_API_TOKEN"), show_envvar=True,
              help="Console API key (Settings > User Management). Prefer the environment variable.")
@click.option("--registry", envvar=_env("REGISTRY"), show_envvar=True,
              help="Registry account (node id or name); by default the one serving the image's host.")
@click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES, case_sensitive=False), default="critical",
              envvar=_env("FAIL_ON"), show_envvar=True,
              help="Fail on any unmasked finding at or above this severity; 'none' only reports.")
@click.option("--timeout", default="30m", envvar=_env("TIMEOUT"), show_envvar=True,
              help="How long to wait for registry sync and scan, e.g. 90s, 30m, 1h.")
@click.option("--sync/--no-sync", default=False, envvar=_env("SYNC"), show_envvar=True,
              help="Sync the registry first when the tag is not on the console yet (admin token).")
@click.option("--junit", type=click.Path(dir_okay=False), envvar=_env("JUNIT"), show_envvar=True,
              help="Write a JUnit XML report here.")
@click.option("--sarif", type=click.Path(dir_okay=False), envvar=_env("SARIF"), show_envvar=True,
              help="Write a SARIF 2.1.0 report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), envvar=_env("JSON"), show_envvar=True,
              help="Write a JSON report here ('-' for standard output).")
@click.option("--insecure", is_flag=True, envvar=_env("INSECURE"), show_envvar=True,
              help="Do not verify the console's TLS certificate.")
@click.option("--ca-bundle", type=click.Path(dir_okay=False), envvar=_env("CA_BUNDLE"), show_envvar=True,
              help="CA certificates (PEM) to verify the console with.")
@click.option("--languages", envvar=_env("LANGUAGES"), show_envvar=True,
              help="Comma-separated scan languages (default: all the console supports).")
@click.option("--poll-interval", default="15s", envvar=_env("POLL_INTERVAL"), show_envvar=True,
              help="Longest pause between status checks (they start at 2s and back off).")
@click.option("--page-size", type=int, default=1000, envvar=_env("PAGE_SIZE"), show_envvar=True,
              help="Findings fetched per request (at most 1000).")
@click.option("--cancel-on-timeout", is_flag=True, envvar=_env("CANCEL_ON_TIMEOUT"), show_envvar=True,
              help="Stop the console's scan when --timeout runs out (by default it keeps running).")
def scan_image(image_ref: str, **options: Any) -> None:
    """Scan IMAGE_REF ([registry/]repo[:tag] or repo@sha256:...) and gate on its findings."""
    from ci_scan.app import run
    from ci_scan.config import Settings

    settings = Settings.build(
        console_url=options["console_url"],
        api_token=options["api_token"],
        image=image_ref,
        fail_on=options["fail_on"],
        timeout=options["timeout"],
        registry=options["registry"],
        sync=options["sync"],
        languages=options["languages"],
        page_size=options["page_size"],
        poll_max=options["poll_interval"],
        cancel_on_timeout=options["cancel_on_timeout"],
        reports={"junit": options["junit"], "sarif": options["sarif"], "json": options["json_path"]},
        insecure=options["insecure"],
        ca_bundle=options["ca_bundle"],
    )
    sys.exit(run(settings))


@cli.group()
def simulator() -> None:
    """A console simulator for dry runs of pipelines (not a real console)."""


@simulator.command("serve")
@click.option("--host", default="127.0.0.1", envvar=_env("SIMULATOR_HOST"), show_envvar=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, envvar=_env("SIMULATOR_PORT"),
              show_envvar=True)
def simulator_serve(host: str, port: int) -> None:
    """Serve the simulated console API over HTTP until interrupted."""
    from ci_scan.simulator import ADMIN_TOKEN, serve_forever

    click.echo(f"Console simulator on http://{host}:{port} (API token: {ADMIN_TOKEN})", err=True)
    serve_forever(host, port)


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


def main() -> None:
    """Entry point: one line per error, documented exit codes, never a traceback."""
    try:
        code = cli.main(prog_name="ci-scan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("ci-scan: aborted", err=True)
        code = ExitCode.SCAN_INCOMPLETE
    except click.ClickException as exc:
        click.echo(f"ci-scan: error: {exc.format_message()} (see ci-scan --help)", err=True)
        code = ExitCode.USAGE
    except CiScanError as exc:
        click.echo(f"ci-scan: error: {exc.one_line()}", err=True)
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else ExitCode.SCAN_INCOMPLETE
    except Exception as exc:  # a bug must never read as "findings" (exit 1)
        detail = _scrub(f"{type(exc).__name__}: {exc}")
        click.echo(f"ci-scan: internal error: {detail} (please report this)", err=True)
        code = ExitCode.SCAN_INCOMPLETE
    sys.exit(int(code or 0))
