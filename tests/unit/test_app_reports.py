"""The run's reports as the app writes them: what a shortened report left out reaches the summary."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

import ci_scan.app
from ci_scan.app import run
from ci_scan.config import ImageScan, Settings
from ci_scan.errors import ExitCode
from ci_scan.formats.base import Format
from ci_scan.formats.sarif import SarifFormat
from ci_scan.models import ImageRef
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator
from tests.conftest import FakeTime


def test_the_summary_says_what_a_shortened_report_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = ci_scan.app._renderer

    def small_sarif(name: str, settings: Settings) -> Format:
        return SarifFormat(max_results=5) if name == "sarif" else made(name, settings)

    monkeypatch.setattr(ci_scan.app, "_renderer", small_sarif)
    sarif, junit = tmp_path / "scan.sarif", tmp_path / "scan.xml"
    settings = Settings.build(console_url="https://console.test", api_token=ADMIN_TOKEN,
                              request=ImageScan((ImageRef.parse("registry.example.com/team/app:1.4.2"),)),
                              reports={"sarif": str(sarif), "junit": str(junit)})
    stdout, time = io.StringIO(), FakeTime()
    code = run(settings, transport=httpx.WSGITransport(app=ConsoleSimulator()), stdout=stdout,
               stderr=io.StringIO(), clock=time.clock, sleep=time.sleep)
    assert code == ExitCode.GATE_FAILED
    shortened = [line for line in stdout.getvalue().splitlines() if "is shortened" in line]
    assert len(shortened) == 1, stdout.getvalue()
    assert shortened[0].startswith(f"Warning: report {sarif} is shortened: left out 40 of 45 results of ")
    assert sarif.is_file() and junit.is_file()
