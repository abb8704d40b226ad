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
    for name in ("floor", "junit", "sarif", "json", "gitlab_report", "sbom", "markdown", "all formats"):
        assert name in out, out
    sys.modules.pop("reports", None)
    sys.modules.pop("run", None)
