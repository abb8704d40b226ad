"""Stopping what a run started: on a signal at any stage, on --timeout with several scan kinds, and when a
later kind cannot start. In-process, against the simulator, with a clock that moves only when slept."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_scan import client as client_module
from ci_scan.app import run
from ci_scan.config import Settings
from ci_scan.errors import ExitCode, Interrupted
from ci_scan.simulator import ConsoleSimulator
from tests.conftest import FakeTime
from tests.test_many_targets import REG, images, settings_for

STOP = "/deepfence/scan/stop/"


class Tripwire(httpx.BaseTransport):
    """The simulator, where the `nth` request to a path starting with `prefix` raises instead (a signal
    arriving while that request runs); `on_sleep` lets the clock move the simulator's own time too."""

    def __init__(self, sim: ConsoleSimulator, prefix: str, nth: int, error: BaseException) -> None:
        self.inner, self.prefix, self.nth, self.error = httpx.WSGITransport(app=sim), prefix, nth, error
        self.seen = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(self.prefix):
            self.seen += 1
            if self.seen == self.nth:
                raise self.error
        return self.inner.handle_request(request)


def run_with(settings: Settings, transport: httpx.BaseTransport, time: FakeTime | None = None) -> tuple[ExitCode, str]:
    err = io.StringIO()
    clock = time or FakeTime()
    code = run(settings, transport=transport, stdout=io.StringIO(), stderr=err, clock=clock.clock, sleep=clock.sleep)
    return code, err.getvalue()


def stops(sim: ConsoleSimulator) -> list[tuple[str, list[str]]]:
    return [(r.path.removeprefix(STOP), r.json()["scan_ids"]) for r in sim.requests if r.path.startswith(STOP)]


def test_a_signal_while_a_later_kind_starts_stops_the_earlier_kinds_scans(tmp_path: Path) -> None:
    sim = ConsoleSimulator()
    transport = Tripwire(sim, "/deepfence/scan/start/secret", 1, Interrupted(15, "SIGTERM"))
    settings = settings_for(images(f"{REG}/stuck:1.0"), scan_type="vulnerability,secret",
                            reports={"json": str(tmp_path / "r.json")})
    code, err = run_with(settings, transport)
    assert code == ExitCode.TERMINATED, err
    assert [kind for kind, _ in stops(sim)] == ["vulnerability"]
    assert "asked to stop the scan(s) this run started" in err
    assert json.loads((tmp_path / "r.json").read_text())["gate"]["exit_code"] == 143


def test_a_signal_between_two_start_requests_stops_the_scans_of_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 600)  # one start request per image
    sim = ConsoleSimulator()
    transport = Tripwire(sim, "/deepfence/scan/start/vulnerability", 2, Interrupted(2, "SIGINT"))
    code, err = run_with(settings_for(images(f"{REG}/stuck:1.0", f"{REG}/app:1.4.2")), transport)
    assert code == ExitCode.INTERRUPTED, err
    (stopped,) = stops(sim)
    started = sim.dataset.image("team/stuck", "1.0").latest_scan_id
    assert stopped == ("vulnerability", [started])


def test_a_signal_while_waiting_stops_every_kinds_unfinished_scans_and_no_finished_one() -> None:
    sim = ConsoleSimulator()
    transport = Tripwire(sim, "/deepfence/scan/status/vulnerability", 12, Interrupted(15, "SIGTERM"))
    settings = settings_for(images(f"{REG}/stuck:1.0", f"{REG}/clean:1.0"), scan_type="vulnerability,secret")
    code, err = run_with(settings, transport)
    assert code == ExitCode.TERMINATED, err
    assert "Fetched 0 findings of registry.example.com/team/clean:1.0" in err  # its vulnerability scan is done
    by_kind = dict(stops(sim))
    stuck = sim.dataset.image("team/stuck", "1.0").node_id
    assert [i.rpartition("-")[0] for i in by_kind["vulnerability"]] == [stuck]
    assert len(by_kind["secret"]) == 2  # not waited for yet: both still run


def test_stopping_after_a_timeout_shares_one_grace_over_every_kind() -> None:
    """Each stop request hangs; the three kinds' stops together still end 5 s past --timeout."""
    sim = ConsoleSimulator()
    time = FakeTime()

    class SlowStops(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.WSGITransport(app=sim)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith(STOP):
                time.sleep(4)  # the console takes 4 s over each stop
            return self.inner.handle_request(request)

    settings = settings_for(images(f"{REG}/stuck:1.0"), scan_type="vulnerability,secret,malware", timeout="30s")
    code, err = run_with(settings, SlowStops(), time)
    assert code == ExitCode.TIMED_OUT, err
    assert time.now <= 30 + 5 + 4, f"the run took {time.now:g}s of the clock"  # the last stop may be mid-request
    assert len(stops(sim)) < 3, "the grace ran out before the third kind's stop"


def test_a_kind_that_cannot_start_stops_the_scans_of_the_kinds_that_did() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/start/malware", 500, times=1)
    settings = settings_for(images(f"{REG}/stuck:1.0"), scan_type="vulnerability,malware")
    code, err = run_with(settings, httpx.WSGITransport(app=sim))
    assert code == ExitCode.SCAN_INCOMPLETE, err
    assert [kind for kind, _ in stops(sim)] == ["vulnerability"]


def test_a_settings_error_found_at_the_console_exits_2_and_its_report_says_2(tmp_path: Path) -> None:
    sim = ConsoleSimulator()
    settings = settings_for(images(f"{REG}/app:1.4.2"), reports={"json": str(tmp_path / "r.json")},
                            policy={"baseline_scan_id": "nosuch-1732000000"})
    code, err = run_with(settings, httpx.WSGITransport(app=sim))
    assert code == ExitCode.USAGE, err
    assert json.loads((tmp_path / "r.json").read_text())["gate"]["exit_code"] == 2


def test_a_second_signal_waits_for_the_stop_and_the_reports(tmp_path: Path) -> None:
    """The second SIGTERM arrives during the stop request: it is noted, not raised, and the reports are written."""
    import signal

    sim = ConsoleSimulator()
    handler: list[Callable[[int, Any], None]] = []

    class SecondSignal(Tripwire):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith(STOP):
                installed = signal.getsignal(signal.SIGTERM)
                assert callable(installed)
                handler.append(installed)
                installed(signal.SIGTERM, None)  # as Python would call it: must not raise now
            return super().handle_request(request)

    transport = SecondSignal(sim, "/deepfence/scan/status/vulnerability", 2, Interrupted(15, "SIGTERM"))
    code, err = run_with(settings_for(images(f"{REG}/stuck:1.0"), reports={"json": str(tmp_path / "r.json")}),
                         transport)
    assert code == ExitCode.TERMINATED, err
    assert handler, "the stop was sent with ci-scan's handler installed"
    assert json.loads((tmp_path / "r.json").read_text())["gate"]["exit_code"] == 143
    assert signal.getsignal(signal.SIGTERM) is not handler[0], "the handlers are put back after the run"
