"""Shared helpers of the formats: attrs to JSON, times, wording."""

from __future__ import annotations

import sarif_om as om

from ci_scan.formats.attrs_json import to_json_data
from ci_scan.formats.base import duration_ms, iso_utc, url_host
from ci_scan.formats.text import one_line, shorten
from ci_scan.models import ScanResult


def test_attrs_objects_use_schema_names_and_drop_defaults() -> None:
    result = om.Result(
        message=om.Message(text="m"),
        rule_id="CVE-1",
        rule_index=0,
        level="warning",
        properties={"security-severity": "9.8", "nested": [om.Message(text="x")]},
    )
    assert to_json_data(result) == {
        "message": {"text": "m"},
        "level": "warning",  # the SARIF default, written anyway
        "properties": {"security-severity": "9.8", "nested": [{"text": "x"}]},
        "ruleId": "CVE-1",
        "ruleIndex": 0,  # kind "fail", rank -1.0 and other defaults are gone
    }
    assert to_json_data(om.ToolComponent(name="ci-scan")) == {"name": "ci-scan"}


def test_iso_utc_from_milliseconds() -> None:
    assert iso_utc(1732752090123) == "2024-11-28T00:01:30.123Z"
    assert iso_utc(0) is None and iso_utc(-5) is None
    assert iso_utc(10**20) is None, "beyond datetime's range"


def test_url_host() -> None:
    assert url_host("https://console.example.com:8443/path") == "console.example.com"
    assert url_host("http://[::1") == "" and url_host("") == ""


def test_duration_needs_both_ends(sample_result: ScanResult) -> None:
    assert duration_ms(sample_result) == 90_000
    assert duration_ms(ScanResult(sample_result.target, "s", (), started_at_ms=5, finished_at_ms=0)) == 0


def test_text_helpers() -> None:
    assert one_line(" a\r\n\tb  c ") == "a b c"
    assert shorten("abcdef", 4) == "abc…" and shorten("abc", 4) == "abc"
