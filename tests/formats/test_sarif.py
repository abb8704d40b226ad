"""SARIF report: both schemas, GitHub's upload rules, the gate per result, stable fingerprints."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from functools import cache
from typing import Any

import jsonschema
import pytest

from ci_scan import __version__
from ci_scan.formats.sarif import MAX_RESULTS_PER_RUN, SarifFormat, artifact_uri
from ci_scan.formats.sarif_rules import security_severity
from ci_scan.models import ImageRef, ScanResult, Severity
from tests.conftest import shared_path
from tests.formats.github_sarif_rules import MAX_RESULTS, github_violations
from tests.formats.helpers import LARGE_SIZE, decide, image_target

RENDER = SarifFormat().render


@cache
def validators() -> tuple[Any, Any]:
    oasis = json.loads(shared_path("schemas", "sarif-schema-2.1.0.oasis.json").read_text())
    github = json.loads(shared_path("schemas", "sarif-schema-2.1.0.codeql-action.json").read_text())
    jsonschema.Draft4Validator.check_schema(oasis)
    # The codeql-action copy fails its own metaschema (see SOURCES.md): like the action, skip that check.
    return jsonschema.Draft4Validator(oasis), jsonschema.validators.validator_for(github)(github)


def sarif(result: ScanResult, fail_on: str = "high", fmt: SarifFormat | None = None) -> Any:
    return json.loads((fmt or SarifFormat()).render(result, decide(result, fail_on)))


def results_by_id(log: Any) -> dict[str, dict[str, Any]]:
    return {r["properties"]["resultId"]: r for r in log["runs"][0]["results"]}


def assert_valid(log: Any) -> None:
    for validator in validators():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []
    assert github_violations(log) == []


@pytest.mark.parametrize("fail_on", ["critical", "high", "none"])
@pytest.mark.parametrize("fixture", ["sample_result", "empty_result", "nasty_result"])
def test_valid_for_both_schemas_and_github(fixture: str, fail_on: str, request: pytest.FixtureRequest) -> None:
    assert_valid(sarif(request.getfixturevalue(fixture), fail_on))


def test_the_github_checker_catches_what_github_refuses(sample_result: ScanResult) -> None:
    good = sarif(sample_result)
    broken = copy.deepcopy(good)
    run = broken["runs"][0]
    run["tool"]["driver"]["name"] = "CodeQL"
    run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] = 9.8
    run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "docker://app:1.0"
    run["results"][1]["ruleIndex"] = 4
    del run["results"][2]["partialFingerprints"]
    assert len(github_violations(broken)) == 5
    del broken["runs"][0]["results"]
    assert "Missing 'results' array in run" in " ".join(github_violations(broken))


def test_run_describes_tool_image_and_gate(sample_result: ScanResult) -> None:
    log = sarif(sample_result, "high")
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("ci-scan", __version__)
    assert "informationUri" not in driver  # the project has no public home page yet
    assert run["automationDetails"] == {"id": "ci-scan/registry.example.com/team/app/"}
    assert run["properties"] == {
        "image": "registry.example.com/team/app:1.4.2",
        "repository": "registry.example.com/team/app",
        "nodeId": sample_result.target.node_id,
        "nodeType": "image",
        "scanId": sample_result.scan_id,
        "consoleUrl": "https://console.example.com",
        "gate": {"failOn": "high", "verdict": "failed", "failing": 3, "reason": decide(sample_result).reason},
        "results": {"total": 7, "reported": 7, "truncated": False},
    }
    (invocation,) = run["invocations"]
    assert invocation == {
        "executionSuccessful": True,
        "exitCode": 1,
        "exitCodeDescription": "gate failed",
        "startTimeUtc": "2024-11-28T00:00:00.000Z",
        "endTimeUtc": "2024-11-28T00:01:30.000Z",
    }


def test_one_rule_per_vulnerability(sample_result: ScanResult) -> None:
    run = sarif(sample_result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert sorted(rule["id"] for rule in rules) == sorted({f.cve_id for f in sample_result.findings})
    openssl = [r for r in run["results"] if r["ruleId"] == "CVE-2024-0001"]
    assert len(openssl) == 2 and {r["ruleIndex"] for r in openssl} == {
        rules.index(next(rule for rule in rules if rule["id"] == "CVE-2024-0001"))
    }
    rule = rules[openssl[0]["ruleIndex"]]
    assert rule["properties"] == {
        "tags": ["security", "vulnerability", "critical", "base"],
        "precision": "high",
        "security-severity": "9.8",
    }
    assert rule["fullDescription"]["text"] == 'Buffer overflow <in> "openssl" & friends'
    assert "/usr/lib/libssl.so.3" in rule["help"]["text"] and "| openssl:3.0.2 |" in rule["help"]["markdown"]
    assert rule["helpUri"] == "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"


def test_levels_and_gate_properties_follow_the_gate(sample_result: ScanResult) -> None:
    results = results_by_id(sarif(sample_result, "high"))
    observed = {rid: (r["level"], r["properties"]["gate"], "suppressions" in r) for rid, r in results.items()}
    assert observed == {
        "r1": ("error", "failed", False),
        "r7": ("error", "failed", False),
        "r2": ("error", "failed", False),
        "r6": ("warning", "masked", True),
        "r3": ("warning", "passed", False),
        "r4": ("note", "passed", False),
        "r5": ("note", "passed", False),
    }
    assert results["r6"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "masked in the Deepfence console"}
    ]
    assert results["r3"]["message"]["text"].endswith("below the --fail-on threshold high.")


def test_report_only_has_no_errors(sample_result: ScanResult) -> None:
    results = sarif(sample_result, "none")["runs"][0]["results"]
    assert {r["level"] for r in results} == {"warning", "note"}
    assert [r["properties"]["gate"] for r in results].count("failed") == 0


def test_location_is_a_safe_synthetic_path(sample_result: ScanResult) -> None:
    results = results_by_id(sarif(sample_result))
    (location,) = results["r2"]["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "container/registry.example.com/team/app/app/node_modules/lodash/package.json"},
        "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
    }
    assert [logical["name"] for logical in location["logicalLocations"]] == [
        "registry.example.com/team/app:1.4.2",
        "lodash:4.17.20",
    ]
    assert results["r1"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "container/registry.example.com/team/app"
    )


@pytest.mark.parametrize(
    ("reference", "path", "uri"),
    [
        ("alpine:3.20", "", "container/docker.io/alpine"),
        (
            "localhost:5000/team/app@sha256:" + "a" * 64,
            "/opt/my app/x:1.jar",
            "container/localhost%3A5000/team/app/opt/my%20app/x%3A1.jar",
        ),
        (
            "quay.io/org/app:v1",
            "C:\\Program Files\\a.dll",
            "container/quay.io/org/app/C%3A/Program%20Files/a.dll",
        ),
        ("quay.io/org/app:v1", "/../../etc/./passwd#x?y%", "container/quay.io/org/app/etc/passwd%23x%3Fy%25"),
        ("quay.io/org/app:v1", "/app/lib/a.jar:/app/lib/b.jar", "container/quay.io/org/app/app/lib/a.jar"),
        ("quay.io/org/app:v1", "/app/\ud800.so", "container/quay.io/org/app/app/%EF%BF%BD.so"),
    ],
)
def test_artifact_uri(reference: str, path: str, uri: str) -> None:
    assert artifact_uri(image_target(reference), path) == uri


def test_fingerprints_are_unique_and_survive_a_new_tag(sample_result: ScanResult) -> None:
    retagged_image = ImageRef.parse("registry.example.com/team/app@sha256:" + "e" * 64)
    retagged = replace(
        sample_result, target=replace(sample_result.target, image=retagged_image, name=str(retagged_image))
    )
    before, after = results_by_id(sarif(sample_result)), results_by_id(sarif(retagged))
    fingerprints = {rid: r["partialFingerprints"]["primaryLocationLineHash"] for rid, r in before.items()}
    assert len(set(fingerprints.values())) == len(fingerprints)
    assert fingerprints == {rid: r["partialFingerprints"]["primaryLocationLineHash"] for rid, r in after.items()}
    assert [r["locations"][0]["physicalLocation"] for r in before.values()] == [
        r["locations"][0]["physicalLocation"] for r in after.values()
    ]


def test_truncation_keeps_failing_then_most_severe(sample_result: ScanResult) -> None:
    log = sarif(sample_result, "critical", SarifFormat(max_results=3))
    assert_valid(log)
    run = log["runs"][0]
    assert [r["properties"]["resultId"] for r in run["results"]] == ["r1", "r7", "r6"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["CVE-2024-0001", "CVE-2024-0005"]
    assert run["properties"]["results"] == {"total": 7, "reported": 3, "truncated": True}
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and "7 findings exceed" in note["message"]["text"]
    assert MAX_RESULTS_PER_RUN == MAX_RESULTS


def test_twenty_thousand_findings_fit_githubs_limits(large_result: ScanResult) -> None:
    log = sarif(large_result, "critical")
    assert github_violations(log) == []
    run = log["runs"][0]
    assert len(run["results"]) == LARGE_SIZE and run["properties"]["results"]["truncated"] is False
    assert len(run["tool"]["driver"]["rules"]) == 5000
    import gzip

    assert len(gzip.compress(json.dumps(log).encode())) < 10 * 2**20  # GitHub's upload limit
    failing = len(decide(large_result, "critical").failing)
    assert [r["level"] for r in run["results"][:failing]] == ["error"] * failing


def test_hostile_strings_survive(nasty_result: ScanResult) -> None:
    text = RENDER(nasty_result, decide(nasty_result))
    assert "\ud800" not in text and text.endswith("}\n")
    run = json.loads(text)["runs"][0]
    assert run["automationDetails"]["id"] == "ci-scan/localhost:5000/team/app/"
    rules = run["tool"]["driver"]["rules"]
    assert all(len(rule["fullDescription"]["text"]) <= 1024 for rule in rules)
    assert "ünï 漢字 🚀" in rules[0]["fullDescription"]["text"]
    assert "helpUri" not in rules[0], "a link with spaces is not a URI"
    masked = results_by_id(json.loads(text))["n7"]
    assert (
        masked["properties"]["gate"] == "masked" and "security-severity" not in rules[masked["ruleIndex"]]["properties"]
    )


@pytest.mark.parametrize(
    ("severity", "cvss", "expected"),
    [
        (Severity.CRITICAL, 9.8, "9.8"),
        (Severity.CRITICAL, 9.0, "9.5"),  # GitHub files 9.0 under high
        (Severity.CRITICAL, 0.0, "9.5"),
        (Severity.HIGH, 7.5, "7.5"),
        (Severity.HIGH, 9.8, "8.0"),
        (Severity.MEDIUM, 6.94, "6.9"),
        (Severity.LOW, 0.0, "2.0"),
        (Severity.UNKNOWN, 5.3, "5.3"),
        (Severity.UNKNOWN, 0.0, None),
        (Severity.UNKNOWN, 11.0, None),
    ],
)
def test_security_severity(severity: Severity, cvss: float, expected: str | None) -> None:
    assert security_severity(severity, cvss) == expected


def test_a_host_target_gets_its_own_path_and_category(sample_result: ScanResult) -> None:
    host = replace(sample_result.target, node_type="host", name="build-agent-7", image=None)
    log = sarif(replace(sample_result, target=host))
    assert_valid(log)
    run = log["runs"][0]
    assert run["automationDetails"]["id"] == "ci-scan/build-agent-7/"
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]} == {
        "host/build-agent-7",
        "host/build-agent-7/usr/lib/libssl.so.3",
        "host/build-agent-7/app/node_modules/lodash/package.json",
    }
    assert artifact_uri(host, "/../.") == "host/build-agent-7"


def test_a_link_with_a_trailing_newline_is_no_help_uri(sample_result: ScanResult) -> None:
    findings = tuple(replace(f, link="https://example.com/CVE\n") for f in sample_result.findings)
    log = sarif(replace(sample_result, findings=findings))
    assert all("helpUri" not in rule for rule in log["runs"][0]["tool"]["driver"]["rules"])
