"""The report benchmark still runs (at a tiny size): `make bench` must not rot between releases."""

from __future__ import annotations

import importlib
import sys

import pytest

from tests.conftest import ROOT


def test_the_report_benchmark_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    reports = importlib.import_module("reports")  # benchmarks/ is scripts, not a package mypy sees
    run = importlib.import_module("run").scan_big()
    small = reports.scaled(run, 30)
    assert len(small.targets[0].findings) == 30
    grown = reports.scaled(run, len(run.targets[0].findings) + 5)
    assert len({f.result_id for f in grown.targets[0].findings}) == len(grown.targets[0].findings)
    reports.report(run, sizes=(30,), repeats=1)
    out = capsys.readouterr().out
    for name in ("floor", "junit", "sarif", "json", "gitlab_report", "sbom", "markdown", "all six"):
        assert name in out, out
    sys.modules.pop("reports", None)
    sys.modules.pop("run", None)


def test_the_poll_schedule_meets_the_lag_and_request_goals_on_a_simulated_clock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic (the clock moves only when ci-scan sleeps): COMPLETE is noticed within max(2 s, 10%)
    of the scan's time, and a long scan costs at most one status check per 5 s."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    polling = importlib.import_module("polling")
    (name, options, _), *_ = polling.schedules()
    assert name.startswith("ci-scan")
    for duration in (5.0, 7.0, 60.0, 600.0):
        outcome = polling.measure(duration, options)
        assert outcome.lag <= outcome.lag_goal, (duration, outcome)
        if duration >= 600:
            assert outcome.per_5s <= 1, (duration, outcome)
    sys.modules.pop("polling", None)


def test_the_end_to_end_benchmark_runs_on_a_small_image(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    end_to_end = importlib.import_module("end_to_end")
    from ci_scan.cli import GC_THRESHOLDS

    assert end_to_end.GC_THRESHOLDS == GC_THRESHOLDS  # the floor runs as ci-scan does
    end_to_end.table(1, "registry.example.com/team/app:1.4.2")
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    # The stdlib client exits 0; ci-scan fails the gate on that image's critical findings, with every report.
    assert [row.rsplit("|", 2)[-2].strip() for row in rows[1:]] == ["0", "1", "1"], rows
    sys.modules.pop("end_to_end", None)
