"""JSON report: the documented schema_version 2 shape, a target entry per target, stable output."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from ci_scan import __version__
from ci_scan.formats.json import JsonFormat, report_schema
from ci_scan.models import Finding, RunResult, Severity
from tests.formats.helpers import LARGE_SIZE, decide, only, with_target

RENDER = JsonFormat().render
JSON_REPORT_SCHEMA = report_schema()
VALIDATOR = jsonschema.Draft202012Validator(JSON_REPORT_SCHEMA)


HIGH_POLICY = {
    "fail_on": "high",
    "criteria": ["--fail-on high"],
    "sources": [{"criterion": "--fail-on high", "source": "option"}],
    "narrowing": [],
    "scoped": False,
    "baseline": None,
    "vex": [],
}
"""What the gate says of a policy of --fail-on high alone, set in code."""


def report(run: RunResult, fail_on: str = "high") -> Any:
    return json.loads(RENDER(decide(run, fail_on)))


def test_the_shipped_schema_is_a_valid_schema_that_rejects_drift(sample_run: RunResult) -> None:
    jsonschema.Draft202012Validator.check_schema(JSON_REPORT_SCHEMA)
    document = report(sample_run)
    document["targets"][0]["findings"][0]["surprise"] = 1
    del document["gate"]["exit_code"]
    document["targets"][0]["verdict"] = "masked"
    assert len(list(VALIDATOR.iter_errors(document))) == 3
    secret = report(with_target(sample_run, findings=(Finding("secret", "key", Severity.HIGH, "/x"),)))
    VALIDATOR.validate(secret)
    secret["targets"][0]["findings"][0]["cve_id"] = "key"
    assert len(list(VALIDATOR.iter_errors(secret))) == 1, "cve_id is for vulnerabilities only"


@pytest.mark.parametrize("fail_on", ["critical", "high", "none"])
@pytest.mark.parametrize("fixture", ["sample_run", "empty_run", "nasty_run", "multi_run"])
def test_matches_the_documented_schema(fixture: str, fail_on: str, request: pytest.FixtureRequest) -> None:
    VALIDATOR.validate(report(request.getfixturevalue(fixture), fail_on))


def test_sample_summary(sample_run: RunResult) -> None:
    document = report(sample_run, "high")
    result = only(sample_run)
    assert list(document) == ["schema_version", "tool", "console_url", "gate", "error", "counts", "targets",
                              "warnings"]
    reason = "3 finding(s) at or above high: 2 critical, 1 high; 1 masked finding(s) not counted"
    assert {key: document[key] for key in ("schema_version", "tool", "console_url", "gate", "counts")} == {
        "schema_version": 2,
        "tool": {"name": "ci-scan", "version": __version__},
        "console_url": "https://console.example.com",
        "gate": {
            **HIGH_POLICY,
            "verdict": "failed",
            "passed": False,
            "reason": reason,
            "exit_code": 1,
            "on_error": "fail",
            "failing": 3,
        },
        "counts": {"critical": 2, "high": 1, "medium": 1, "low": 1, "unknown": 1, "masked": 1, "total": 7},
    }
    (target,) = document["targets"]
    assert list(target) == [
        "target", "scan", "verdict", "reason", "exit_code", "error", "timed_out", "notes", "counts",
        "console_counts", "policy", "rules", "findings", "warnings",
    ]
    assert {key: target[key] for key in target if key not in ("findings", "console_counts")} == {
        "target": {
            "name": "registry.example.com/team/app:1.4.2",
            "kind": "image",
            "image": "registry.example.com/team/app:1.4.2",
            "registry": "registry.example.com",
            "repository": "team/app",
            "tag": "1.4.2",
            "digest": None,
            "node_id": result.target.node_id,
            "node_type": "image",
            "registry_id": "docker_private_registry-registry_example_com-1",
        },
        "scan": {
            "id": result.scan_id,
            "status": "COMPLETE",
            "started_at": "2024-11-28T00:00:00.000Z",
            "finished_at": "2024-11-28T00:01:30.000Z",
        },
        "verdict": "failed",
        "reason": reason,
        "exit_code": 1,
        "error": None,
        "timed_out": False,
        "notes": [],
        "counts": document["counts"],
        "policy": None,
        "rules": [{"rule": "fail-on", "limit": "high", "measured": 3, "tripped": True}],
        "warnings": [],
    }
    assert target["console_counts"] == result.console_counts
    assert document["warnings"] == []


def test_findings_most_severe_first_with_their_disposition(sample_run: RunResult) -> None:
    findings = report(sample_run, "high")["targets"][0]["findings"]
    assert [(f["result_id"], f["severity"], f["disposition"]) for f in findings] == [
        ("r1", "critical", "failing"),
        ("r7", "critical", "failing"),
        ("r6", "critical", "masked"),
        ("r2", "high", "failing"),
        ("r3", "medium", "passing"),
        ("r4", "low", "passing"),
        ("r5", "unknown", "passing"),
    ]
    lodash = findings[3]
    assert {key: lodash[key] for key in ("kind", "rule_id", "cve_id", "component", "package_name",
                                         "package_version", "location", "score", "masked")} == {
        "kind": "vulnerability",
        "rule_id": "CVE-2024-0002",
        "cve_id": "CVE-2024-0002",
        "component": "lodash:4.17.20",
        "package_name": "lodash",
        "package_version": "4.17.20",
        "location": "/app/node_modules/lodash/package.json",
        "score": 7.5,
        "masked": False,
    }
    assert lodash["details"] == {
        "cve_type": "javascript",
        "layer": "",
        "attack_vector": "",
        "network": "",
        "overall_score": 0.0,
        "epss_score": 0.0,
        "cisa_kev": False,
        "exploit_poc": "",
        "live_connection": False,
        "urls": [],
    }
    assert len({f["fingerprint"] for f in findings}) == len(findings)


def test_nothing_fails_with_fail_on_none(sample_run: RunResult) -> None:
    document = report(sample_run, "none")
    assert document["gate"]["passed"] is True and document["gate"]["exit_code"] == 0
    assert {f["disposition"] for f in document["targets"][0]["findings"]} == {"passing", "masked"}
    assert document["targets"][0]["rules"] == []  # --fail-on none: no criterion in force


def test_unknown_times_and_non_image_targets_are_null(sample_run: RunResult) -> None:
    result = only(sample_run)
    host = replace(result.target, kind="host", node_type="host", name="build-agent-7", image=None, registry_id=None)
    run = replace(with_target(sample_run, target=host, started_at_ms=0, finished_at_ms=0, scan_id="", status=""),
                  console_url="")
    document = report(run)
    VALIDATOR.validate(document)
    assert document["console_url"] is None
    assert document["targets"][0]["scan"] == {"id": None, "status": None, "started_at": None, "finished_at": None}
    assert document["targets"][0]["target"] == {
        "name": "build-agent-7",
        "kind": "host",
        "image": None,
        "registry": None,
        "repository": None,
        "tag": None,
        "digest": None,
        "node_id": result.target.node_id,
        "node_type": "host",
        "registry_id": None,
    }


def test_text_layout(sample_run: RunResult, nasty_run: RunResult) -> None:
    text = RENDER(decide(sample_run))
    assert text.startswith('{\n  "schema_version": 2,\n') and text.endswith("}\n")
    nasty = RENDER(decide(nasty_run))
    nasty.encode("utf-8")  # lone surrogates would make this raise
    assert "ünï 漢字 🚀" in nasty


def test_hostile_strings_round_trip(nasty_run: RunResult) -> None:
    findings = {f["result_id"]: f for f in report(nasty_run)["targets"][0]["findings"]}
    assert findings["n1"]["location"] == "/opt/my app/lib:v2/file name.jar"
    assert findings["n3"]["location"] == "/opt/my app/lib:v2/file\x00 name.jar"
    assert findings["n1"]["description"].startswith("ctl\x00\x01\x08")
    assert findings["n7"]["rule_id"].endswith("lone \ufffd") and findings["n7"]["cve_id"].endswith("lone \ufffd")
    assert findings["n1"]["details"]["urls"] == ["https://example.com/advisory?id=1&x=2", "javascript:alert(1)"]


def test_twenty_thousand_findings(large_run: RunResult) -> None:
    (target,) = report(large_run, "critical")["targets"]
    assert len(target["findings"]) == target["counts"]["total"] == LARGE_SIZE
    ranks = ["critical", "high", "medium", "low", "unknown"]
    order = [ranks.index(f["severity"]) for f in target["findings"]]
    assert order == sorted(order)


def test_every_target_has_its_entry(multi_run: RunResult) -> None:
    document = report(multi_run, "high")
    entries = document["targets"]
    assert [(e["target"]["name"], e["verdict"], e["exit_code"]) for e in entries] == [
        ("registry.example.com/team/app:1.4.2", "failed", 1),
        ("registry.example.com/team/app:1.5.0", "passed", 0),
        ("quay.io/acme/api:2.0", "failed", 1),
        ("registry.example.com/team/worker:3.1", "incomplete", 3),
        ("quay.io/acme/api:2.1", "timed_out", 4),
    ]
    assert [e["target"]["digest"] for e in entries] == [
        "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64, None, "sha256:" + "4" * 64,
    ]
    assert document["gate"] == {
        **HIGH_POLICY,
        "verdict": "failed",
        "passed": False,
        "reason": "5 targets: 1 passed, 2 failed, 1 could not be completed, 1 timed out",
        "exit_code": 1,
        "on_error": "fail",
        "failing": 4,
    }
    assert document["counts"] == {"critical": 2, "high": 2, "medium": 2, "low": 3, "unknown": 1, "masked": 1,
                                  "total": 11}
    assert document["warnings"] == ["the console did not report its version"]
    assert entries[1]["notes"] == ["reused a scan of this digest that finished 5 minutes earlier"]
    assert entries[2]["warnings"] == ["the console returned 1 duplicate row"]


def test_an_incomplete_target_carries_its_error(multi_run: RunResult) -> None:
    worker, api_21 = report(multi_run, "high")["targets"][3:]
    message = "the console reported ERROR: failed to pull registry.example.com/team/worker:3.1: manifest unknown"
    reason = decide(multi_run, "high").targets[3].reason
    assert message in reason
    assert {key: worker[key] for key in ("error", "timed_out", "reason", "rules", "findings")} == {
        "error": message,
        "timed_out": False,
        "reason": reason,
        "rules": [],
        "findings": [],
    }
    assert worker["scan"] == {
        "id": "worker31-scan",
        "status": "ERROR",
        "started_at": "2024-11-28T00:00:00.000Z",
        "finished_at": "2024-11-28T00:00:10.000Z",
    }
    assert {key: api_21[key] for key in ("error", "timed_out", "verdict")} == {
        "error": None,
        "timed_out": True,
        "verdict": "timed_out",
    }
    assert api_21["scan"]["finished_at"] is None


def test_fingerprints_are_shared_by_tags_of_one_repository(multi_run: RunResult) -> None:
    entries = report(multi_run, "high")["targets"]
    old = {f["rule_id"]: f["fingerprint"] for f in entries[0]["findings"] if f["rule_id"] == "CVE-2024-0003"}
    new = {f["rule_id"]: f["fingerprint"] for f in entries[1]["findings"] if f["rule_id"] == "CVE-2024-0003"}
    assert old == new and len(old) == 1


def test_the_run_names_every_target_that_could_not_be_gated(multi_run: RunResult, sample_run: RunResult,
                                                            empty_run: RunResult) -> None:
    document = report(multi_run)
    incomplete = [t for t in document["targets"] if t["verdict"] in ("incomplete", "timed_out")]
    assert len(incomplete) == 2
    assert document["error"] == "; ".join(f"{t['target']['name']}: {t['reason']}" for t in incomplete)
    assert report(sample_run)["error"] is None
    assert report(empty_run)["error"] is None  # a clean target is a complete verdict
    nothing = report(replace(empty_run, targets=()))
    assert nothing["error"] == nothing["gate"]["reason"] == "nothing was scanned"
