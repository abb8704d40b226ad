"""SARIF report: both schemas, GitHub's upload rules, a run per repository, the gate per result, fingerprints."""

from __future__ import annotations

import copy
import gzip
import json
import random
from dataclasses import replace
from functools import cache
from typing import Any

import jsonschema
import pytest

from ci_scan import __version__
from ci_scan.dockerfile import parse as parse_dockerfile
from ci_scan.formats.sarif import MAX_RESULTS_PER_RUN, MAX_RUNS, SarifFormat, artifact_uri
from ci_scan.formats.sarif_rules import security_severity
from ci_scan.models import Finding, ImageRef, RunResult, Severity, Target, TargetResult
from tests.conftest import shared_path
from tests.formats.conftest import REPOSITORIES
from tests.formats.github_sarif_rules import MAX_RESULTS, github_violations
from tests.formats.github_sarif_rules import MAX_RUNS as GITHUB_MAX_RUNS
from tests.formats.helpers import LARGE_SIZE, decide, image_target, only, with_target

RENDER = SarifFormat().render


@cache
def validators() -> tuple[Any, Any]:
    oasis = json.loads(shared_path("schemas", "sarif-schema-2.1.0.oasis.json").read_text())
    github = json.loads(shared_path("schemas", "sarif-schema-2.1.0.codeql-action.json").read_text())
    jsonschema.Draft4Validator.check_schema(oasis)
    # The codeql-action copy fails its own metaschema (see SOURCES.md): like the action, skip that check.
    return jsonschema.Draft4Validator(oasis), jsonschema.validators.validator_for(github)(github)


def sarif(run: RunResult, fail_on: str = "high", fmt: SarifFormat | None = None) -> Any:
    return json.loads((fmt or SarifFormat()).render(decide(run, fail_on)))


def results_by_id(log: Any, run: int = 0) -> dict[str, dict[str, Any]]:
    return {r["properties"]["resultId"]: r for r in log["runs"][run]["results"]}


def runs_by_category(log: Any) -> dict[str, Any]:
    return {run["automationDetails"]["id"]: run for run in log["runs"]}


def assert_valid(log: Any) -> None:
    for validator in validators():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []
    assert github_violations(log) == []


@pytest.mark.parametrize("fail_on", ["critical", "high", "none"])
@pytest.mark.parametrize("fixture", ["sample_run", "empty_run", "nasty_run", "multi_run", "many_repositories_run"])
def test_valid_for_both_schemas_and_github(fixture: str, fail_on: str, request: pytest.FixtureRequest) -> None:
    assert_valid(sarif(request.getfixturevalue(fixture), fail_on))


def test_the_github_checker_catches_what_github_refuses(sample_run: RunResult) -> None:
    good = sarif(sample_run)
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


def test_run_describes_tool_image_and_gate(sample_run: RunResult) -> None:
    log = sarif(sample_run, "high")
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("ci-scan", __version__)
    assert "informationUri" not in driver  # the project has no public home page yet
    assert run["automationDetails"] == {"id": "ci-scan/registry.example.com/team/app/"}
    result = only(sample_run)
    reason = decide(sample_run).reason
    assert run["properties"] == {
        "repository": "registry.example.com/team/app",
        "consoleUrl": "https://console.example.com",
        "gate": {"failOn": "high", "criteria": [{"criterion": "--fail-on high", "source": "option"}],
                 "verdict": "failed", "failing": 3, "reason": reason},
        "results": {"total": 7, "reported": 7, "truncated": False},
        "targets": [
            {
                "image": "registry.example.com/team/app:1.4.2",
                "nodeId": result.target.node_id,
                "nodeType": "image",
                "scanId": result.scan_id,
                "verdict": "failed",
                "reason": reason,
                "failing": 3,
            }
        ],
    }
    (invocation,) = run["invocations"]
    assert invocation == {
        "executionSuccessful": True,
        "exitCode": 1,
        "exitCodeDescription": "gate failed",
        "startTimeUtc": "2024-11-28T00:00:00.000Z",
        "endTimeUtc": "2024-11-28T00:01:30.000Z",
    }


def test_one_rule_per_vulnerability(sample_run: RunResult) -> None:
    run = sarif(sample_run)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert sorted(rule["id"] for rule in rules) == sorted({f.rule_id for f in only(sample_run).findings})
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


def test_levels_and_disposition_properties_follow_the_gate(sample_run: RunResult) -> None:
    results = results_by_id(sarif(sample_run, "high"))
    observed = {rid: (r["level"], r["properties"]["disposition"], "suppressions" in r) for rid, r in results.items()}
    assert observed == {
        "r1": ("error", "failing", False),
        "r7": ("error", "failing", False),
        "r2": ("error", "failing", False),
        "r6": ("warning", "masked", True),
        "r3": ("warning", "passing", False),
        "r4": ("note", "passing", False),
        "r5": ("note", "passing", False),
    }
    assert results["r6"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "masked in the Deepfence console"}
    ]
    assert results["r3"]["message"]["text"].endswith("below the --fail-on threshold high.")


def test_report_only_has_no_errors(sample_run: RunResult) -> None:
    results = sarif(sample_run, "none")["runs"][0]["results"]
    assert {r["level"] for r in results} == {"warning", "note"}
    assert [r["properties"]["disposition"] for r in results].count("failing") == 0


def test_location_is_a_safe_synthetic_path(sample_run: RunResult) -> None:
    results = results_by_id(sarif(sample_run))
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


def test_fingerprints_are_unique_and_survive_a_new_tag(sample_run: RunResult) -> None:
    retagged_image = ImageRef.parse("registry.example.com/team/app@sha256:" + "e" * 64)
    target = only(sample_run).target
    retagged = with_target(sample_run, target=replace(target, image=retagged_image, name=str(retagged_image)))
    before, after = results_by_id(sarif(sample_run)), results_by_id(sarif(retagged))
    fingerprints = {rid: r["partialFingerprints"]["primaryLocationLineHash"] for rid, r in before.items()}
    assert len(set(fingerprints.values())) == len(fingerprints)
    assert fingerprints == {rid: r["partialFingerprints"]["primaryLocationLineHash"] for rid, r in after.items()}
    assert [r["locations"][0]["physicalLocation"] for r in before.values()] == [
        r["locations"][0]["physicalLocation"] for r in after.values()
    ]


def test_truncation_keeps_failing_then_most_severe(sample_run: RunResult) -> None:
    fmt = SarifFormat(max_results=3)
    log = sarif(sample_run, "critical", fmt)
    assert_valid(log)
    assert fmt.shortened.startswith("left out 4 of 7 results of registry.example.com/team/app:1.4.2")
    run = log["runs"][0]
    assert [r["properties"]["resultId"] for r in run["results"]] == ["r1", "r7", "r6"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["CVE-2024-0001", "CVE-2024-0005"]
    assert run["properties"]["results"] == {"total": 7, "reported": 3, "truncated": True}
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and "7 findings exceed" in note["message"]["text"]
    assert MAX_RESULTS_PER_RUN == MAX_RESULTS


def test_twenty_thousand_findings_fit_githubs_limits(large_run: RunResult) -> None:
    log = sarif(large_run, "critical")
    assert github_violations(log) == []
    run = log["runs"][0]
    assert len(run["results"]) == LARGE_SIZE and run["properties"]["results"]["truncated"] is False
    assert len(run["tool"]["driver"]["rules"]) == 5000
    import gzip

    assert len(gzip.compress(json.dumps(log).encode())) < 10 * 2**20  # GitHub's upload limit
    failing = len(decide(large_run, "critical").failing)
    assert [r["level"] for r in run["results"][:failing]] == ["error"] * failing


def test_hostile_strings_survive(nasty_run: RunResult) -> None:
    text = RENDER(decide(nasty_run))
    assert "\ud800" not in text and text.endswith("}\n")
    run = json.loads(text)["runs"][0]
    assert run["automationDetails"]["id"] == "ci-scan/localhost:5000/team/app/"
    rules = run["tool"]["driver"]["rules"]
    assert all(len(rule["fullDescription"]["text"]) <= 1024 for rule in rules)
    assert "ünï 漢字 🚀" in rules[0]["fullDescription"]["text"]
    assert "helpUri" not in rules[0], "a link with spaces is not a URI"
    masked = results_by_id(json.loads(text))["n7"]
    assert (
        masked["properties"]["disposition"] == "masked"
        and "security-severity" not in rules[masked["ruleIndex"]]["properties"]
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


def test_a_host_target_gets_its_own_path_and_category(sample_run: RunResult) -> None:
    host = replace(only(sample_run).target, kind="host", node_type="host", name="build-agent-7", image=None)
    log = sarif(with_target(sample_run, target=host))
    assert_valid(log)
    run = log["runs"][0]
    assert run["automationDetails"]["id"] == "ci-scan/build-agent-7/"
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]} == {
        "host/build-agent-7",
        "host/build-agent-7/usr/lib/libssl.so.3",
        "host/build-agent-7/app/node_modules/lodash/package.json",
    }
    assert artifact_uri(host, "/../.") == "host/build-agent-7"


def test_a_link_with_a_trailing_newline_is_no_help_uri(sample_run: RunResult) -> None:
    findings = tuple(replace(f, link="https://example.com/CVE\n") for f in only(sample_run).findings)
    log = sarif(with_target(sample_run, findings=findings))
    assert all("helpUri" not in rule for rule in log["runs"][0]["tool"]["driver"]["rules"])


def test_one_run_per_repository_in_the_runs_order(multi_run: RunResult) -> None:
    log = sarif(multi_run, "high")
    assert list(runs_by_category(log)) == [
        "ci-scan/registry.example.com/team/app/",
        "ci-scan/quay.io/acme/api/",
        "ci-scan/_incomplete/",
    ]
    app = runs_by_category(log)["ci-scan/registry.example.com/team/app/"]
    assert [t["image"] for t in app["properties"]["targets"]] == [
        "registry.example.com/team/app:1.4.2",
        "registry.example.com/team/app:1.5.0",
    ]
    assert app["properties"]["results"] == {"total": 9, "reported": 9, "truncated": False}
    assert app["invocations"][0]["executionSuccessful"] is True
    assert "toolExecutionNotifications" in app["invocations"][0], "the run's warning"


def test_each_result_names_its_image_and_digest(multi_run: RunResult) -> None:
    app = sarif(multi_run, "high")["runs"][0]
    by_id = {r["properties"]["resultId"]: r for r in app["results"]}
    newer = by_id["b3"]
    assert newer["properties"] == {
        "disposition": "passing",
        "severity": "medium",
        "image": "registry.example.com/team/app:1.5.0",
        "digest": "sha256:" + "2" * 64,
        "component": "zlib:1.2.11",
        "score": 5.0,
        "resultId": "b3",
    }
    image_location = newer["locations"][0]["logicalLocations"][0]
    assert image_location == {
        "name": "registry.example.com/team/app:1.5.0",
        "fullyQualifiedName": "registry.example.com/team/app:1.5.0@sha256:" + "2" * 64,
        "kind": "resource",
    }
    assert "; image registry.example.com/team/app:1.5.0;" in newer["message"]["text"]
    older = by_id["r3"]
    assert older["properties"]["image"] == "registry.example.com/team/app:1.4.2"
    assert older["partialFingerprints"] == newer["partialFingerprints"], "one finding of two tags is one alert"
    assert [r["properties"]["resultId"] for r in app["results"]][:3] == ["r1", "r7", "r2"], "failing first"


def test_a_run_with_images_of_several_tags_lists_them_in_its_rules(multi_run: RunResult) -> None:
    app = sarif(multi_run, "high")["runs"][0]
    (zlib,) = [rule for rule in app["tool"]["driver"]["rules"] if rule["id"] == "CVE-2024-0003"]
    assert "Affected packages in registry.example.com/team/app:" in zlib["help"]["text"]
    assert "- zlib:1.2.11 in registry.example.com/team/app:1.5.0: no fixed version known" in zlib["help"]["text"]
    assert "| Image | Package | Path | Fixed in |" in zlib["help"]["markdown"]


def test_an_unfinished_target_makes_its_run_unsuccessful(multi_run: RunResult) -> None:
    decision = decide(multi_run, "high")
    api = runs_by_category(sarif(multi_run, "high"))["ci-scan/quay.io/acme/api/"]
    (invocation,) = api["invocations"]
    assert invocation["executionSuccessful"] is False
    assert (invocation["exitCode"], invocation["exitCodeDescription"]) == (1, "gate failed")
    timed_out = decision.targets[4]
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert [n["message"]["text"] for n in errors] == [f"quay.io/acme/api:2.1: {timed_out.reason}"]
    assert {r["properties"]["image"] for r in api["results"]} == {"quay.io/acme/api:2.0"}
    assert [(t["image"], t["verdict"]) for t in api["properties"]["targets"]] == [
        ("quay.io/acme/api:2.0", "failed"),
        ("quay.io/acme/api:2.1", "timed_out"),
    ]


def test_a_repository_with_only_incomplete_targets_gets_no_run_of_its_own(multi_run: RunResult) -> None:
    """An empty run in the repository's own category would close its open alerts on GitHub."""
    runs = runs_by_category(sarif(multi_run, "high"))
    assert "ci-scan/registry.example.com/team/worker/" not in runs
    worker = runs["ci-scan/_incomplete/"]
    assert worker["results"] == [] and worker["tool"]["driver"].get("rules", []) == []
    (invocation,) = worker["invocations"]
    assert invocation["executionSuccessful"] is False
    (error,) = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert "failed to pull registry.example.com/team/worker:3.1: manifest unknown" in error["message"]["text"]
    assert worker["properties"]["results"] == {"total": 0, "reported": 0, "truncated": False}


def test_only_incomplete_targets_still_exit_with_their_code(multi_run: RunResult) -> None:
    unfinished = replace(multi_run, targets=multi_run.targets[3:])
    log = sarif(unfinished, "high")
    assert_valid(log)
    assert [run["results"] for run in log["runs"]] == [[]]
    assert log["runs"][0]["automationDetails"]["id"] == "ci-scan/_incomplete/"
    assert {(run["invocations"][0]["exitCode"], run["invocations"][0]["exitCodeDescription"]) for run in log["runs"]} \
        == {(3, "gate incomplete")}


def test_beyond_twenty_repositories_the_least_severe_are_merged(many_repositories_run: RunResult) -> None:
    log = sarif(many_repositories_run, "high")
    assert_valid(log)
    assert len(log["runs"]) == MAX_RUNS == GITHUB_MAX_RUNS
    categories = list(runs_by_category(log))
    assert categories == [f"ci-scan/registry.example.com/team/service-{i:02d}/" for i in range(19)] + [
        "ci-scan/_merged/"
    ]
    merged = log["runs"][-1]
    merged_repositories = [f"registry.example.com/team/service-{i:02d}" for i in (24, 19, 20, 21, 22, 23)]
    assert merged["properties"]["merged"]["repositories"] == merged_repositories
    assert "repository" not in merged["properties"]
    assert sorted(r["properties"]["image"] for r in merged["results"]) == [
        f"registry.example.com/team/service-{i:02d}:1.0" for i in range(19, REPOSITORIES)
    ]
    assert all(r["properties"]["repository"] in merged_repositories for r in merged["results"])
    assert all(r["locations"][0]["logicalLocations"][0]["name"] == r["properties"]["image"] for r in merged["results"])
    (note,) = merged["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert note["message"]["text"] == merged["properties"]["merged"]["reason"]
    assert "at most 20 runs" in note["message"]["text"] and "service-24" in note["message"]["text"]
    assert len(merged["properties"]["targets"]) == 6


def test_merging_keeps_failing_then_most_severe_then_first_named(many_repositories_run: RunResult) -> None:
    def own_runs(run: RunResult, fail_on: str, max_runs: int) -> list[str]:
        categories = list(runs_by_category(sarif(run, fail_on, SarifFormat(max_runs=max_runs))))
        assert categories[-1] == "ci-scan/_merged/"
        return [category.split("/")[-2] for category in categories[:-1]]

    # at --fail-on critical only repositories 0-4 fail: with 6 runs they, and no other, keep their own
    assert own_runs(many_repositories_run, "critical", 6) == [f"service-{i:02d}" for i in range(5)]
    # then the most severe finding decides: 5 and 6 are high, with the highest scores...
    assert own_runs(many_repositories_run, "critical", 8) == [f"service-{i:02d}" for i in range(7)]
    # ...unless service-20's finding becomes a worse high than theirs, whatever its name
    raised = tuple(
        replace(t, findings=tuple(replace(f, severity=Severity.HIGH, score=9.95) for f in t.findings))
        if t.target.name.startswith("registry.example.com/team/service-20:") else t
        for t in many_repositories_run.targets
    )
    assert own_runs(replace(many_repositories_run, targets=raised), "critical", 8) == [
        *(f"service-{i:02d}" for i in range(6)),
        "service-20",
    ]
    # with findings alike, the name decides (not the run's order, which lists service-24 first)
    alike = tuple(
        replace(t, findings=tuple(replace(f, severity=Severity.LOW, score=2.0) for f in t.findings))
        for t in many_repositories_run.targets
    )
    assert own_runs(replace(many_repositories_run, targets=alike), "high", 4) == ["service-00", "service-01",
                                                                                  "service-02"]


def test_twenty_repositories_need_no_merge(many_repositories_run: RunResult) -> None:
    twenty = replace(many_repositories_run, targets=many_repositories_run.targets[:20])
    log = sarif(twenty)
    assert len(log["runs"]) == 20 and "ci-scan/_merged/" not in runs_by_category(log)


def test_a_merged_run_records_unfinished_targets(multi_run: RunResult) -> None:
    log = sarif(multi_run, "high", SarifFormat(max_runs=2))
    assert_valid(log)
    merged, unfinished = log["runs"]
    assert merged["automationDetails"]["id"] == "ci-scan/_merged/"
    assert merged["properties"]["merged"]["repositories"] == ["registry.example.com/team/app", "quay.io/acme/api"]
    invocation = merged["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [n["message"]["text"].split(":")[0] for n in invocation["toolExecutionNotifications"]
            if n["level"] == "error"] == ["quay.io/acme/api"]
    assert unfinished["automationDetails"]["id"] == "ci-scan/_incomplete/"


def test_the_result_cap_applies_per_run(multi_run: RunResult) -> None:
    log = sarif(multi_run, "high", SarifFormat(max_results=3))
    assert_valid(log)
    app, api, _ = log["runs"]
    assert app["properties"]["results"] == {"total": 9, "reported": 3, "truncated": True}
    assert api["properties"]["results"] == {"total": 2, "reported": 2, "truncated": False}
    assert [r["properties"]["resultId"] for r in app["results"]] == ["r1", "r7", "r2"]


def test_findings_of_other_kinds_get_their_own_rules(sample_run: RunResult) -> None:
    secret = Finding("secret", "aws-access-key", Severity.HIGH, "", location="/app/.env", score=8.0, result_id="s1")
    log = sarif(with_target(sample_run, findings=(secret,)), "high")
    assert_valid(log)
    run = log["runs"][0]
    (rule,) = run["tool"]["driver"]["rules"]
    assert rule["id"] == "aws-access-key"
    assert rule["shortDescription"]["text"] == "aws-access-key: high secret in an unnamed file"
    assert rule["properties"]["tags"] == ["security", "secret", "high"]
    (result,) = run["results"]
    assert (result["level"], result["properties"]["location"]) == ("error", "/app/.env")


def test_a_host_named_like_a_shared_run_never_shares_its_category(multi_run: RunResult) -> None:
    host = Target(kind="host", node_id="h1", node_type="host", name="incomplete")
    named = TargetResult(target=host, scan_id="h-scan", status="COMPLETE", findings=multi_run.targets[0].findings)
    log = sarif(replace(multi_run, targets=(*multi_run.targets, named)))
    categories = [run["automationDetails"]["id"] for run in log["runs"]]
    assert len(categories) == len(set(categories)), categories


def test_a_log_over_githubs_upload_limit_is_cut_and_says_so(sample_run: RunResult) -> None:
    noise = random.Random(7)
    findings = tuple(
        replace(f, rule_id=f"CVE-2024-{i:05d}", result_id=f"r{i}",
                description="".join(noise.choice("abcdefghij ") for _ in range(3000)))
        for i, f in enumerate(list(only(sample_run).findings) * 40)
    )
    run = with_target(sample_run, findings=findings)
    whole = SarifFormat().render(decide(run))
    limit = len(gzip.compress(whole.encode())) // 3
    cut = SarifFormat(upload_limit=limit).render(decide(run))
    assert len(gzip.compress(cut.encode())) <= limit
    fmt = SarifFormat(upload_limit=limit)
    assert fmt.render(decide(run)) == cut and "to stay under GitHub's upload limit" in fmt.shortened
    log = json.loads(cut)
    notes = [n["message"]["text"] for r in log["runs"]
             for n in r["invocations"][0].get("toolExecutionNotifications", [])]
    assert any(n.startswith("to stay under GitHub's upload limit") for n in notes), notes
    failing = [r for run_ in log["runs"] for r in run_["results"] if r["level"] == "error"]
    assert len(failing) == len(decide(run).failing), "gate-failing results are the last to go"
    assert_valid(log)


def test_results_point_at_the_dockerfile_base_packages_at_its_from_line(sample_run: RunResult) -> None:
    text = ("# build\nFROM golang:1.22 AS build\nRUN make\nFROM debian:12-slim \\\n    AS runtime\n"
            "COPY --from=build /app /app\n")
    dockerfile = parse_dockerfile(text, "docker/app.Dockerfile")
    log = sarif(sample_run, "high", SarifFormat(dockerfile=dockerfile))
    assert_valid(log)
    run = log["runs"][0]
    assert run["properties"]["dockerfile"] == "docker/app.Dockerfile"
    by_type: dict[str, set[tuple[tuple[str, int], ...]]] = {}
    for result in run["results"]:
        finding = next(f for f in only(sample_run).findings if f.result_id == result["properties"]["resultId"])
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "docker/app.Dockerfile"}
        by_type.setdefault(finding.details.cve_type if finding.details else "", set()).add(
            tuple(sorted(physical["region"].items())))
    from_line = (("endColumn", 15), ("endLine", 5), ("startColumn", 1), ("startLine", 4))
    assert by_type.pop("base") == {from_line}
    assert by_type and all(regions == {(("endColumn", 1), ("endLine", 1), ("startColumn", 1), ("startLine", 1))}
                           for regions in by_type.values())
    # The fingerprints follow the repository, not the file (GitHub still matches alerts by path too).
    plain = results_by_id(sarif(sample_run, "high"))
    assert all(r["partialFingerprints"] == plain[key]["partialFingerprints"] for key, r in results_by_id(log).items())


def test_a_dockerfile_from_scratch_puts_every_result_on_line_one(sample_run: RunResult) -> None:
    dockerfile = parse_dockerfile("FROM golang AS b\nFROM scratch\nCOPY --from=b /x /x\n", "Dockerfile")
    log = sarif(sample_run, "high", SarifFormat(dockerfile=dockerfile))
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in log["runs"][0]["results"]} == {1}
