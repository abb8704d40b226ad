"""One gated run from settings to exit code: scan every target, decide, write reports, summarise.

The console client (and so httpx) is imported only when a run starts, so that reading settings and
printing help never load the HTTP stack.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ci_scan import wording
from ci_scan.ci_env import detect, failing_annotations, step_outputs, timestamped, write_github_outputs
from ci_scan.config import Connection, ExistingScans, ImageScan, NodeScan, RegistryScan, Settings, Sweep
from ci_scan.decision import Decision, decide
from ci_scan.errors import CiScanError, ExitCode, Interrupted, ScanTimeout, redact
from ci_scan.formats import report
from ci_scan.models import RunResult
from ci_scan.report_paths import check_report_paths, is_stdout
from ci_scan.reports import ReportsNotWritten, write_reports
from ci_scan.sanitize import for_log, neutral_line_start
from ci_scan.scan import STOP_GRACE, Scanner, merge_kinds
from ci_scan.summary import render_summary, use_colour

if TYPE_CHECKING:
    from ci_scan.client import ConsoleClient
    from ci_scan.formats.base import Format


def run(
    settings: Settings,
    *,
    transport: Any = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], float] = time.time,
    today: Callable[[], dt.date] | None = None,
) -> ExitCode:
    """Run the scans and the gate; never raises for anything a user can cause.

    `transport` is an httpx transport for tests (the in-process simulator); None means the network.
    """
    signals = _Signals()
    with signals.installed():
        return _run(settings, signals, transport=transport, stdout=stdout, stderr=stderr, clock=clock, sleep=sleep,
                    wall_clock=wall_clock, today=today)


def _run(
    settings: Settings,
    signals: _Signals,
    *,
    transport: Any,
    stdout: TextIO | None,
    stderr: TextIO | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    wall_clock: Callable[[], float],
    today: Callable[[], dt.date] | None,
) -> ExitCode:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    ci = detect(os.environ)
    section = "unopened"  # the scan's collapsible log section: opened by the first progress line, closed once

    def say(line: str) -> None:
        # Our lines quote the console (ids, statuses, its error messages): neutralised, one write each.
        err.write(neutral_line_start(for_log(line)) + "\n")
        err.flush()

    def progress(line: str) -> None:
        nonlocal section
        if ci.in_ci:
            if section == "unopened":
                section = "open"
                if opening := ci.section_start("ci-scan: scanning", wall_clock()):
                    err.write(opening + "\n")
            line = timestamped(line, wall_clock())
        say(line)

    def close_section() -> None:
        nonlocal section
        if section == "open" and (closing := ci.section_end(wall_clock())):
            err.write(closing + "\n")
            err.flush()
        section = "closed"

    requests: list[tuple[Format, str]] = []
    decision: Decision | None = None
    code = ExitCode.SCAN_INCOMPLETE
    written: list[Path] = []
    try:
        check_report_paths(settings.reports)
        requests = [(_renderer(name, settings), path) for name, path in settings.reports]
        for notice in settings.notices:
            progress(notice)
        deadline = clock() + settings.scan.timeout  # the whole run's, every scan kind and phase in it
        with open_client(settings, progress, transport=transport, sleep=sleep) as client:
            client.wait_until(deadline, clock)  # nothing in the run goes unbounded, not even a stray thread
            scanners = [
                Scanner(client, replace(settings.scan, kind=kind), progress, clock=clock, sleep=sleep,
                        wall_clock=wall_clock, baseline=settings.baseline if kind.name == "vulnerability" else None,
                        deadline=deadline)
                for kind in settings.scan.kinds
            ]  # one per --scan-type; the baseline is of vulnerabilities
            started: list[tuple[Scanner, list[Any]]] = []
            try:
                # extend keeps the scanners started so far, should a signal come in the middle
                started.extend((scanner, _start(scanner, settings)) for scanner in scanners)
                result = merge_kinds([scanner.finish(scans) for scanner, scans in started])
            except CiScanError as exc:  # a cancelled job, or trouble starting: stop what this run started
                signals.raising = False  # a second signal waits for the (bounded) stop and the reports
                if settings.scan.cancel:
                    listed = {id(scanner): scans for scanner, scans in started}
                    until = clock() + STOP_GRACE  # one grace for every kind's stop
                    stopped = [i for scanner in scanners for i in scanner.stop_started(listed.get(id(scanner)), until)]
                    if stopped:
                        exc.hint = f"the console was asked to stop the scan(s) this run started: {', '.join(stopped)}"
                if isinstance(exc, Interrupted):
                    client.abort()  # fetches in flight in other threads end now, not at the deadline
                raise
            finally:
                signals.raising = False
            baseline = scanners[0].baseline
        day = today() if today else dt.datetime.now(dt.timezone.utc).date()  # when ignore entries expire
        decision = decide(result, settings.policy, today=day, baseline=baseline or settings.loaded_baseline,
                          on_error=settings.on_error)
        report_error = None
        try:
            written = write_reports(requests, decision)
        except ReportsNotWritten as exc:
            report_error, written = exc, exc.written
        _job_summary(decision, settings, progress)
        close_section()
        summary_stream = err if any(is_stdout(path) for _, path in settings.reports) else out
        # A renderer that had to leave something out says what in its `shortened`.
        shortened = [(str(path), note) for fmt, path in requests if (note := getattr(fmt, "shortened", ""))]
        summary_stream.write(render_summary(decision, colour=use_colour(summary_stream, os.environ),
                                            shortened=shortened))
        summary_stream.flush()
        if ci.name == "github":  # beside the summary: standard output may be the JSON report (--json -)
            for line in failing_annotations(decision, settings.dockerfile):
                summary_stream.write(line + "\n")
            summary_stream.flush()
        for path in written:
            progress(f"Report written: {path}")
        for target in decision.targets:
            if target.verdict in ("incomplete", "timed_out"):
                line = wording.problem_line(target.result.target.name, target.verdict, target.reason,
                                            settings.scan.timeout)
                say(f"ci-scan: error: {redact(line, [settings.api_token])}")
        code = decision.exit_code
        if report_error is not None:
            # The verdict stands; a missing report is tool trouble unless the gate failed anyway.
            code = ExitCode.GATE_FAILED if decision.exit_code == ExitCode.GATE_FAILED else ExitCode.SCAN_INCOMPLETE
            say(f"ci-scan: error: {redact(report_error.one_line(), [settings.api_token])}")
    except CiScanError as exc:
        close_section()
        message = redact(exc.one_line(), [settings.api_token])
        if requests:  # the run ended before any verdict: the reports still say why
            ended = RunResult(targets=(), console_url=settings.console_url, error=message,
                              timed_out=isinstance(exc, ScanTimeout), outage=exc.outage,
                              stopped_by=exc.signal_name if isinstance(exc, Interrupted) else "",
                              usage_error=exc.exit_code == ExitCode.USAGE)
            decision = decide(ended, settings.policy, on_error=settings.on_error)
            try:
                written = write_reports(requests, decision)
                for path in written:
                    progress(f"Report written: {path}")
            except ReportsNotWritten as not_written:
                written = not_written.written
                say(f"ci-scan: error: {redact(not_written.one_line(), [settings.api_token])}")
            _job_summary(decision, settings, progress)
        say(f"ci-scan: error: {message}")
        code = decision.exit_code if decision is not None else exc.exit_code
        passed_over = decision.passed_over if decision is not None else settings.on_error == "pass" and exc.outage
        if passed_over:  # --on-error pass: said as loudly as the error itself
            say(f"Warning: {wording.passed_over('timed_out' if isinstance(exc, ScanTimeout) else 'incomplete')}")
            code = ExitCode.PASSED
    close_section()
    if signals.received and code not in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
        code = ExitCode.INTERRUPTED if signals.received == "SIGINT" else ExitCode.TERMINATED
    if ci.github_output:
        paths = {str(path) for path in written}
        reports = [(name, path) for name, path in settings.reports if path != "-" and str(Path(path)) in paths]
        if problem := write_github_outputs(ci.github_output, step_outputs(decision, code, reports)):
            say(f"Warning: {problem}")
    return code


def open_client(reach: Connection | Settings, say: Callable[[str], None], *, transport: Any = None,
                sleep: Callable[[float], None] = time.sleep) -> ConsoleClient:
    """The console client of a command, with its request log on `say` under --debug."""
    from ci_scan.client import ConsoleClient

    debug = (lambda line: say(f"debug: {line}")) if reach.debug else None
    return ConsoleClient(reach.console_url, reach.api_token, transport=transport, verify=reach.verify, sleep=sleep,
                         debug=debug)


class _Signals:
    """SIGINT and SIGTERM (a cancelled CI job) during a run: the first raises Interrupted while `raising`
    (the scans run), and is only noted after; a second waits for the bounded stop and the reports."""

    def __init__(self) -> None:
        self.received = ""
        self.raising = True

    def __call__(self, number: int, frame: object) -> None:
        if self.received:
            return
        self.received = signal.Signals(number).name
        if self.raising:
            raise Interrupted(number, self.received)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # only the main thread takes signals
            yield
            return
        previous = {number: signal.signal(number, self) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def _renderer(name: str, settings: Settings) -> Format:
    spec = report(name)
    inputs = {field: getattr(settings, field) for field in spec.inputs}
    return spec.load(**settings.report_options.get(name, {}), **inputs)


def _job_summary(decision: Decision, settings: Settings, progress: Callable[[str], None]) -> None:
    """In GitHub Actions, append the Markdown summary to the job's summary page ($GITHUB_STEP_SUMMARY),
    unless the run already writes its Markdown report to that file. Trouble here is only a warning."""
    path = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if not path or any(name == "markdown" and given == path for name, given in settings.reports):
        return
    try:
        text = report("markdown").load().render(decision)
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(text)
    except OSError as exc:
        progress(f"Warning: could not add the summary to the GitHub job summary {path}: {exc.strerror or exc}")


def _start(scanner: Scanner, settings: Settings) -> list[Any]:
    request = settings.request
    if isinstance(request, ImageScan):
        return scanner.start_images(request.refs)
    if isinstance(request, RegistryScan):
        return scanner.start_registry(request.registry, request.tags, request.repositories)
    if isinstance(request, ExistingScans):
        return scanner.start_existing(request.scan_ids)
    if isinstance(request, NodeScan):
        return scanner.start_nodes(request.node_type, request.names, request.wait_for)
    if isinstance(request, Sweep):
        return scanner.start_all(request.node_types, request.tags)
    raise AssertionError(f"unknown request {request!r}")
