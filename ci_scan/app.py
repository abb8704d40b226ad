"""One gated scan from settings to exit code: scan, decide, write reports, summarise."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx

from ci_scan.client import ConsoleClient
from ci_scan.config import Settings
from ci_scan.errors import CiScanError, ConfigError, ExitCode, redact
from ci_scan.formats import FORMATS
from ci_scan.gate import evaluate
from ci_scan.reports import write_reports
from ci_scan.scan import Scanner
from ci_scan.summary import render_summary


def run(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ExitCode:
    """Run the scan and the gate; never raises for anything a user can cause."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr

    def progress(message: str) -> None:
        print(message, file=err, flush=True)

    try:
        check_report_paths(settings)
        with ConsoleClient(
            settings.console_url, settings.api_token, transport=transport, verify=settings.verify, sleep=sleep
        ) as client:
            scanner = Scanner(client, settings.scan, progress, clock=clock, sleep=sleep)
            result = scanner.scan_image(settings.image)
        decision = evaluate(result, settings.policy)
        requests = [(FORMATS[name], path) for name, path in settings.reports]
        written = write_reports(requests, result, decision)
        summary_stream = err if any(path == "-" for _, path in settings.reports) else out
        summary_stream.write(render_summary(result, decision))
        for path in written:
            progress(f"Report written: {path}")
        return decision.exit_code
    except CiScanError as exc:
        message = redact(exc.one_line(), [settings.api_token])
        print(f"ci-scan: error: {message}", file=err, flush=True)
        return exc.exit_code


def check_report_paths(settings: Settings) -> None:
    """Fail before scanning, not after a long wait, when a report cannot be written."""
    for name, path in settings.reports:
        if path == "-":
            continue
        target = Path(path)
        if target.is_dir():
            raise ConfigError(f"--{name} {path} is a directory; give a file path")
        parent = next((p for p in target.absolute().parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            raise ConfigError(f"cannot write --{name} report to {path}: its directory is not writable")
