"""Shared helpers of the formats: attrs to JSON, times, labels, text."""

from __future__ import annotations

from dataclasses import replace

import sarif_om as om

from ci_scan.formats.attrs_json import to_json_data
from ci_scan.formats.base import duration_ms, iso_utc, target_labels, url_host
from ci_scan.formats.text import detail_lines, headline, one_line, score_text, shorten
from ci_scan.models import Finding, RunResult, Severity, VulnerabilityDetails
from tests.formats.helpers import image_target, only


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


def test_duration_needs_both_ends(sample_run: RunResult) -> None:
    result = only(sample_run)
    assert duration_ms(result) == 90_000
    assert duration_ms(replace(result, started_at_ms=5, finished_at_ms=0)) == 0


def test_text_helpers() -> None:
    assert one_line(" a\r\n\tb  c ") == "a b c"
    assert shorten("abcdef", 4) == "abc…" and shorten("abc", 4) == "abc"


def test_labels_tell_targets_of_one_name_apart_by_digest() -> None:
    amd64 = image_target("reg.io/app:1.0", digest="sha256:" + "0123456789ab" + "f" * 52)
    arm64 = image_target("reg.io/app:1.0", digest="sha256:" + "ba9876543210" + "f" * 52)
    other = image_target("reg.io/app:2.0", digest="sha256:" + "1" * 64)
    undigested = image_target("reg.io/app:1.0")
    assert target_labels([amd64, other, arm64, undigested, amd64]) == [
        "reg.io/app:1.0 (0123456789ab)",
        "reg.io/app:2.0",
        "reg.io/app:1.0 (ba9876543210)",
        "reg.io/app:1.0",
        "reg.io/app:1.0 (0123456789ab) #2",
    ]
    assert target_labels([amd64, other]) == ["reg.io/app:1.0", "reg.io/app:2.0"], "a unique name is kept as it is"


def test_findings_of_other_kinds_are_worded_for_their_kind() -> None:
    secret = Finding("secret", "aws-access-key", Severity.HIGH, "", location="/app/.env", score=8.0)
    assert headline(secret) == "aws-access-key (high, score 8.0) in an unnamed file at /app/.env"
    assert detail_lines(secret) == [
        "Rule: aws-access-key",
        "Severity: high",
        "Path: /app/.env",
        "Console score: 8.0",
    ], "no package, no 'fixed in' and no vulnerability details"


def test_scores_are_named_for_what_they_are() -> None:
    scored = Finding("vulnerability", "CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2", score=3.9,
                     details=VulnerabilityDetails(overall_score=3.9))
    assert headline(scored) == "CVE-2024-0001 (critical, exploitability 3.9) in openssl:3.0.2"
    assert "Exploitability score: 3.9 (the CVSS exploitability sub-score, not the base score)" in detail_lines(scored)
    # No CVSS data: the console's 9.0 is only the severity's default, never shown as a score of the finding.
    defaulted = Finding("vulnerability", "CVE-2024-0002", Severity.CRITICAL, "zlib:1.2", score=9.0,
                        details=VulnerabilityDetails())
    assert score_text(defaulted) == "" and headline(defaulted) == "CVE-2024-0002 (critical) in zlib:1.2"
    assert "Exploitability score: none: the console has no CVSS data for it" in detail_lines(defaulted)
    secret = Finding("secret", "aws-access-key", Severity.HIGH, "", location="/app/.env", score=8.0)
    assert score_text(secret) == "score 8.0"


def test_unique_names_number_repeats_in_one_step_each() -> None:
    from ci_scan.formats.base import Unique

    calls: list[int] = []

    def numbered(number: int) -> str:
        calls.append(number)
        return f"a #{number}"

    names = Unique("taken")
    assert [names.take("a", numbered) for _ in range(1000)] == ["a", *(f"a #{n}" for n in range(2, 1001))]
    assert len(calls) == 999, "each repeat is numbered once, not once per earlier repeat"
    assert names.take("taken", lambda n: f"taken #{n}") == "taken #2"
    names.reserve("b")
    assert names.take("b", lambda n: f"b #{n}") == "b #2"
