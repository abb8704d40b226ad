"""JSON report: the documented schema_version 1 shape, the gate per finding, stable output."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from ci_scan import __version__
from ci_scan.formats.json import JsonFormat
from ci_scan.models import ScanResult
from tests.formats.helpers import LARGE_SIZE, decide
from tests.formats.json_report_schema import JSON_REPORT_SCHEMA

RENDER = JsonFormat().render
VALIDATOR = jsonschema.Draft202012Validator(JSON_REPORT_SCHEMA)


def report(result: ScanResult, fail_on: str = "high") -> Any:
    return json.loads(RENDER(result, decide(result, fail_on)))


def test_the_test_schema_is_a_valid_schema_that_rejects_drift(sample_result: ScanResult) -> None:
    jsonschema.Draft202012Validator.check_schema(JSON_REPORT_SCHEMA)
    document = report(sample_result)
    document["findings"][0]["surprise"] = 1
    del document["gate"]["exit_code"]
    assert len(list(VALIDATOR.iter_errors(document))) == 2


@pytest.mark.parametrize("fail_on", ["critical", "high", "none"])
@pytest.mark.parametrize("fixture", ["sample_result", "empty_result", "nasty_result"])
def test_matches_the_documented_schema(fixture: str, fail_on: str, request: pytest.FixtureRequest) -> None:
    VALIDATOR.validate(report(request.getfixturevalue(fixture), fail_on))


def test_sample_summary(sample_result: ScanResult) -> None:
    document = report(sample_result, "high")
    assert list(document) == [
        "schema_version",
        "tool",
        "target",
        "scan",
        "counts",
        "console_counts",
        "gate",
        "findings",
        "warnings",
    ]
    assert {key: document[key] for key in ("schema_version", "tool", "target", "scan", "counts", "gate")} == {
        "schema_version": 1,
        "tool": {"name": "ci-scan", "version": __version__},
        "target": {
            "name": "registry.example.com/team/app:1.4.2",
            "image": "registry.example.com/team/app:1.4.2",
            "registry": "registry.example.com",
            "repository": "team/app",
            "tag": "1.4.2",
            "digest": None,
            "node_id": sample_result.target.node_id,
            "node_type": "image",
            "registry_id": "docker_private_registry-registry_example_com-1",
        },
        "scan": {
            "id": sample_result.scan_id,
            "console_url": "https://console.example.com",
            "started_at": "2024-11-28T00:00:00.000Z",
            "finished_at": "2024-11-28T00:01:30.000Z",
        },
        "counts": {"critical": 2, "high": 1, "medium": 1, "low": 1, "unknown": 1, "masked": 1, "total": 7},
        "gate": {
            "fail_on": "high",
            "verdict": "failed",
            "passed": False,
            "reason": "3 finding(s) at or above high: 2 critical, 1 high; 1 masked finding(s) not counted",
            "exit_code": 1,
            "failing": 3,
        },
    }
    assert document["console_counts"] == sample_result.console_counts
    assert document["warnings"] == []


def test_findings_most_severe_first_with_their_gate(sample_result: ScanResult) -> None:
    findings = report(sample_result, "high")["findings"]
    assert [(f["result_id"], f["severity"], f["gate"]) for f in findings] == [
        ("r1", "critical", "failed"),
        ("r7", "critical", "failed"),
        ("r6", "critical", "masked"),
        ("r2", "high", "failed"),
        ("r3", "medium", "passed"),
        ("r4", "low", "passed"),
        ("r5", "unknown", "passed"),
    ]
    lodash = findings[3]
    assert {key: lodash[key] for key in ("package", "package_name", "package_version", "package_path", "masked")} == {
        "package": "lodash:4.17.20",
        "package_name": "lodash",
        "package_version": "4.17.20",
        "package_path": "/app/node_modules/lodash/package.json",
        "masked": False,
    }
    assert len({f["fingerprint"] for f in findings}) == len(findings)


def test_nothing_fails_with_fail_on_none(sample_result: ScanResult) -> None:
    document = report(sample_result, "none")
    assert document["gate"]["passed"] is True and document["gate"]["exit_code"] == 0
    assert {f["gate"] for f in document["findings"]} == {"passed", "masked"}


def test_unknown_times_and_non_image_targets_are_null(sample_result: ScanResult) -> None:
    host = replace(sample_result.target, node_type="host", name="build-agent-7", image=None, registry_id=None)
    document = report(replace(sample_result, target=host, started_at_ms=0, finished_at_ms=0, console_url=""))
    VALIDATOR.validate(document)
    assert document["scan"]["started_at"] is None and document["scan"]["console_url"] is None
    assert document["target"] == {
        "name": "build-agent-7",
        "image": None,
        "registry": None,
        "repository": None,
        "tag": None,
        "digest": None,
        "node_id": sample_result.target.node_id,
        "node_type": "host",
        "registry_id": None,
    }


def test_text_layout(sample_result: ScanResult, nasty_result: ScanResult) -> None:
    text = RENDER(sample_result, decide(sample_result))
    assert text.startswith('{\n  "schema_version": 1,\n') and text.endswith("}\n")
    nasty = RENDER(nasty_result, decide(nasty_result))
    nasty.encode("utf-8")  # lone surrogates would make this raise
    assert "ünï 漢字 🚀" in nasty


def test_hostile_strings_round_trip(nasty_result: ScanResult) -> None:
    findings = {f["result_id"]: f for f in report(nasty_result)["findings"]}
    assert findings["n1"]["package_path"] == "/opt/my app/lib:v2/file name.jar"
    assert findings["n3"]["package_path"] == "/opt/my app/lib:v2/file\x00 name.jar"
    assert findings["n1"]["description"].startswith("ctl\x00\x01\x08")
    assert findings["n7"]["cve_id"].endswith("lone \ufffd")


def test_twenty_thousand_findings(large_result: ScanResult) -> None:
    document = report(large_result, "critical")
    assert len(document["findings"]) == document["counts"]["total"] == LARGE_SIZE
    ranks = ["critical", "high", "medium", "low", "unknown"]
    order = [ranks.index(f["severity"]) for f in document["findings"]]
    assert order == sorted(order)
