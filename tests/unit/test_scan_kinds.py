"""Secret and malware scans next to vulnerabilities: --scan-type, their findings, one result per target,
and the per-kind criteria."""

from __future__ import annotations

from typing import Any

import pytest

from ci_scan.config import ExistingScans, ImageScan, Settings, parse_scan_types
from ci_scan.decision import decide
from ci_scan.errors import ConfigError
from ci_scan.kinds import MALWARE, SECRET, VULNERABILITY
from ci_scan.models import ImageRef, RunResult, Severity, TargetResult
from ci_scan.policy import Policy
from ci_scan.scan import merge_kinds
from ci_scan.wire import parse_results
from tests.formats.helpers import image_target, vulnerability

SECRET_ROW: dict[str, Any] = {
    "full_filename": "/app/.env", "level": "high", "masked": False, "matched_content": "AKIAEXAMPLEEXAMPLE12",
    "node_id": "secret-1", "rule_id": "aws-access-key", "score": 8.5, "starting_index": 17, "updated_at": 1,
}
MALWARE_ROW: dict[str, Any] = {
    "class": "testing", "complete_filename": "/tmp/eicar.com", "file_sev_score": 9, "file_severity": "medium",
    "image_layer_id": "layer", "masked": False, "node_id": "malware-1", "rule_id": "EICAR_test_file",
    "rule_name": "EICAR test file", "summary": "the EICAR anti-virus test file", "reference": "https://www.eicar.org/",
}


def test_scan_types_are_read_in_the_consoles_order() -> None:
    assert parse_scan_types("malware, Vulnerability,secret,secret") == (VULNERABILITY, SECRET, MALWARE)
    with pytest.raises(ConfigError, match="unknown --scan-type compliance"):
        parse_scan_types("vulnerability,compliance")
    with pytest.raises(ConfigError, match="none given"):
        parse_scan_types(" , ")


def test_results_gates_scans_of_one_kind() -> None:
    with pytest.raises(ConfigError, match="one kind"):
        Settings.build(console_url="https://c", api_token="t", request=ExistingScans(("a-1",)),
                       scan_type="vulnerability,secret")
    settings = Settings.build(console_url="https://c", api_token="t", scan_type="secret",
                              request=ImageScan((ImageRef.parse("a/b:1"),)))
    assert settings.scan.kinds == (SECRET,) and settings.scan.kind == SECRET


def test_a_secret_is_reported_without_its_value() -> None:
    page = parse_results({"secrets": [SECRET_ROW], "severity_counts": {"high": 1}}, SECRET)
    (secret,) = page.findings
    assert (secret.kind, secret.rule_id, secret.severity, secret.location) == (
        "secret", "aws-access-key", Severity.HIGH, "/app/.env")
    assert "AKIAEXAMPLE" not in repr(secret), "the matched secret never leaves the parser"
    assert "offset 17" in secret.description


def test_a_malware_finding_names_its_rule_and_file() -> None:
    (malware,) = parse_results({"malwares": [MALWARE_ROW], "severity_counts": {"medium": 1}}, MALWARE).findings
    assert (malware.kind, malware.rule_id, malware.severity, malware.component) == (
        "malware", "EICAR_test_file", Severity.MEDIUM, "/tmp/eicar.com")
    assert malware.description == "EICAR test file; testing; the EICAR anti-virus test file"
    assert malware.link == "https://www.eicar.org/"


def kind_run(kind: str, **fields: Any) -> RunResult:
    target = image_target("registry.example.com/team/app:1.0")
    return RunResult(targets=(TargetResult(target=target, **fields),), scan_kinds=(kind,))  # type: ignore[arg-type]


def test_each_targets_kinds_become_one_result() -> None:
    cve = vulnerability("CVE-1", Severity.LOW, "zlib:1.2")
    secret = parse_results({"secrets": [SECRET_ROW], "severity_counts": {}}, SECRET).findings[0]
    merged = merge_kinds([
        kind_run("vulnerability", scan_id="v-1", findings=(cve,), console_counts={"low": 1}, started_at_ms=5,
                 finished_at_ms=9),
        kind_run("secret", scan_id="s-1", findings=(secret,), console_counts={"high": 1}, started_at_ms=4,
                 finished_at_ms=12, warnings=("slow",)),
        kind_run("malware", scan_id="m-1", error="the console answered 500"),
    ])
    assert merged.scan_kinds == ("vulnerability", "secret", "malware")
    (target,) = merged.targets
    assert target.scan_id == "v-1" and target.findings == (cve, secret)
    assert target.console_counts == {"low": 1, "high": 1}
    assert (target.started_at_ms, target.finished_at_ms) == (4, 12)
    assert target.error == "malware scan: the console answered 500" and not target.completed
    assert target.notes == ("secret scan s-1", "malware scan m-1") and target.warnings == ("secret scan: slow",)


def test_max_secrets_and_max_malware_count_their_kind() -> None:
    secret = parse_results({"secrets": [SECRET_ROW], "severity_counts": {}}, SECRET).findings[0]
    malware = parse_results({"malwares": [MALWARE_ROW], "severity_counts": {}}, MALWARE).findings[0]
    cve = vulnerability("CVE-1", Severity.CRITICAL, "zlib:1.2")
    run = kind_run("vulnerability", scan_id="v-1", findings=(cve, secret, malware))
    decision = decide(run, Policy.from_values({"max_secrets": 0}))
    rules = {rule.rule: rule for rule in decision.targets[0].rules}
    assert set(rules) == {"fail-on", "max-secrets"}, "a limit on secrets keeps the default threshold on the rest"
    assert (rules["max-secrets"].measured, rules["max-secrets"].tripped) == (1, True)
    assert rules["fail-on"].tripped and decision.verdict == "failed"
    reason = decision.targets[0].reason_for(secret)
    assert reason.startswith("fails the gate: ") and "one of 1 secrets, more than --max-secrets 0" in reason
    passed = decide(run, Policy.from_values({"max_malware": 1, "fail_on": "none"}))
    assert passed.verdict == "passed" and passed.targets[0].rules[0].measured == 1


def test_a_kind_that_failed_the_gate_outweighs_one_that_timed_out() -> None:
    cve = vulnerability("CVE-1", Severity.CRITICAL, "zlib:1.2")
    merged = merge_kinds([kind_run("vulnerability", scan_id="v-1", findings=(cve,)),
                          kind_run("secret", scan_id="s-1", timed_out=True)])
    decision = decide(merged, Policy())
    (target,) = decision.targets
    assert target.verdict == "failed" and decision.exit_code == 1
    assert target.reason.endswith("also the secret scan was still running when --timeout ran out"), target.reason
    assert target.result.timed_out, "the report still says the secret scan did not finish"
    clean = merge_kinds([kind_run("vulnerability", scan_id="v-1", findings=()),
                         kind_run("secret", scan_id="s-1", timed_out=True)])
    assert decide(clean, Policy()).verdict == "timed_out", "with nothing failing, the missing kind decides"
