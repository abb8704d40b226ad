"""GitLab container-scanning report: the shared 15.2.1 schema, what is left out, ids, identifiers, scan status."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import replace
from functools import cache
from typing import Any

import jsonschema
import pytest

from ci_scan import __version__
from ci_scan.baseline import Baseline
from ci_scan.decision import Decision, Policy, decide
from ci_scan.formats import report
from ci_scan.formats.gitlab import DESCRIPTION_LIMIT, NAME_LIMIT, GitlabFormat, gitlab_time, url
from ci_scan.ignores import IgnoreEntry
from ci_scan.models import Finding, RunResult, Severity, TargetResult, VulnerabilityDetails
from ci_scan.vex import Product, VexStatement
from tests.conftest import shared_path
from tests.formats.helpers import assert_golden, image_target, only, single, vulnerability, with_target
from tests.formats.helpers import decide as decide_at

# Read at import: the autouse _clean_env fixture removes every CI_SCAN_* variable before a test runs.
GITLAB_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
RENDER = GitlabFormat().render

IMAGE = "registry.example.com/team/app:1.4.2"
TODAY = dt.date(2026, 12, 1)


@cache
def validator() -> Any:
    schema = json.loads(shared_path("schemas", "gitlab-container-scanning-report-format-15.2.1.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def assert_valid(report_doc: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(report_doc)]
    assert errors == []


def gitlab(run: RunResult, fail_on: str = "high") -> Any:
    return json.loads(RENDER(decide_at(run, fail_on)))


def by_rule(document: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in document["vulnerabilities"]:
        found.setdefault(entry["identifiers"][0]["value"], []).append(entry)
    return found


def details(entry: dict[str, Any], key: str) -> str:
    value: str = entry["details"][key]["value"]
    return value


def every_disposition() -> Decision:
    """One completed target with a finding of each disposition, at --fail-on critical --ignore-unfixed."""
    def cve(number: int, severity: Severity, **fields: Any) -> Finding:
        return vulnerability(f"CVE-2024-{number:04d}", severity, f"lib{number}:1.0", fixed_in="1.1",
                             result_id=f"d{number}", **fields)

    findings = {
        "failing": cve(1, Severity.CRITICAL),
        "passing": cve(2, Severity.LOW),
        "masked": cve(3, Severity.CRITICAL, masked=True),
        "vex": cve(4, Severity.CRITICAL),
        "ignored": cve(5, Severity.CRITICAL),
        "existing": cve(6, Severity.CRITICAL),
        "unfixed": replace(cve(7, Severity.HIGH), fixed_in=""),
        "expired": cve(8, Severity.LOW),
    }
    statement = VexStatement(vulnerability="CVE-2024-0004", aliases=(), products=(Product((IMAGE,)),),
                             status="not_affected", justification="vulnerable_code_not_present",
                             impact_statement="", action_statement="", timestamp=None, where="vex.json statement 1")
    ignores = (
        IgnoreEntry(id="CVE-2024-0005", reason="reviewed", where=".ci-scan-ignore.yml line 2"),
        IgnoreEntry(id="CVE-2024-0008", reason="was fine", expires=TODAY - dt.timedelta(days=1),
                    where=".ci-scan-ignore.yml line 5"),
    )
    policy = replace(Policy.build(fail_on="critical", ignore_unfixed=True, ignores=ignores), vex=(statement,))
    result = TargetResult(image_target(IMAGE), "scan-1", "COMPLETE", tuple(findings.values()),
                          started_at_ms=1732752000000, finished_at_ms=1732752060000)
    decision = decide(RunResult(targets=(result,)), policy, today=TODAY,
                      baseline=Baseline.of("scan old", [findings["existing"]]))
    (target,) = decision.targets
    assert {name: target.disposition(f) for name, f in findings.items()} == {name: name for name in findings}
    return decision


def incomplete_run() -> RunResult:
    """An errored target (with findings the console sent anyway) and a timed-out one."""
    errored = TargetResult(image_target("registry.example.com/team/worker:3.1"), "w-scan", "ERROR",
                           findings=(vulnerability("CVE-2024-0900", Severity.CRITICAL, "glibc:2.31"),),
                           started_at_ms=1732752000000, finished_at_ms=1732752010000,
                           error="failed to pull: manifest unknown")
    timed_out = TargetResult(image_target("quay.io/acme/api:2.1"), "a-scan", "IN_PROGRESS",
                             started_at_ms=1732752005000, timed_out=True)
    return RunResult(targets=(errored, timed_out))


@pytest.mark.parametrize("fail_on", ["critical", "high", "none"])
@pytest.mark.parametrize("fixture", ["sample_run", "multi_run", "nasty_run", "empty_run", "many_repositories_run"])
def test_valid_against_the_shared_schema(fixture: str, fail_on: str, request: pytest.FixtureRequest) -> None:
    document = gitlab(request.getfixturevalue(fixture), fail_on)
    assert_valid(document)
    assert document["version"] == "15.2.1"
    assert document["remediations"] == []


def test_every_disposition_incomplete_and_empty_runs_are_valid() -> None:
    for decision in (every_disposition(), decide_at(incomplete_run()), decide_at(RunResult(targets=()))):
        assert_valid(json.loads(RENDER(decision)))


def test_the_validator_catches_what_gitlab_refuses(sample_run: RunResult) -> None:
    document = gitlab(sample_run)
    document["vulnerabilities"][0]["severity"] = "critical"
    document["scan"]["start_time"] = "2024-11-28T00:00:00.000Z"
    del document["vulnerabilities"][1]["location"]["operating_system"]
    assert len(list(validator().iter_errors(document))) == 3


def test_accepted_findings_are_left_out_the_others_kept() -> None:
    document = json.loads(RENDER(every_disposition()))
    assert_valid(document)
    kept = {details(entry, "ci_scan_disposition"): entry for entry in document["vulnerabilities"]}
    assert sorted(kept) == ["existing", "expired", "failing", "passing", "unfixed"]
    assert [e["identifiers"][0]["value"] for e in document["vulnerabilities"]] == [
        "CVE-2024-0001", "CVE-2024-0006", "CVE-2024-0007", "CVE-2024-0002", "CVE-2024-0008"]  # most severe first
    assert details(kept["failing"], "ci_scan_reason") == "fails the gate: critical is at or above --fail-on critical"
    assert details(kept["existing"], "ci_scan_reason").startswith("existing: already in the baseline (scan old)")
    assert details(kept["unfixed"], "ci_scan_reason").startswith("not gated: no fixed version is known")
    assert "expired on 2026-11-30" in details(kept["expired"], "ci_scan_reason")
    assert "solution" not in kept["unfixed"]


def test_masked_findings_of_the_sample_are_left_out(sample_run: RunResult) -> None:
    document = gitlab(sample_run)
    assert "CVE-2024-0005" not in by_rule(document)  # masked in the console
    assert len(document["vulnerabilities"]) == len(only(sample_run).active) == 6


def test_secrets_and_malware_are_left_out(sample_run: RunResult) -> None:
    secret = Finding("secret", "aws-access-key", Severity.HIGH, "", location="/app/.env", result_id="s1")
    malware = Finding("malware", "eicar", Severity.CRITICAL, "", location="/tmp/x", result_id="m1")
    kept = vulnerability("CVE-2024-0001", Severity.LOW, "zlib:1.2")
    document = gitlab(with_target(sample_run, findings=(secret, malware, kept)))
    assert_valid(document)
    assert list(by_rule(document)) == ["CVE-2024-0001"]


def test_findings_of_targets_not_completed_are_left_out() -> None:
    document = gitlab(incomplete_run())
    assert document["vulnerabilities"] == []


@pytest.mark.parametrize(("severity", "expected"), [
    (Severity.CRITICAL, "Critical"), (Severity.HIGH, "High"), (Severity.MEDIUM, "Medium"),
    (Severity.LOW, "Low"), (Severity.UNKNOWN, "Unknown"),
])
def test_severity_mapping(severity: Severity, expected: str, sample_run: RunResult) -> None:
    document = gitlab(with_target(sample_run, findings=(vulnerability("CVE-2024-0001", severity, "zlib:1.2"),)))
    assert [e["severity"] for e in document["vulnerabilities"]] == [expected]


@pytest.mark.parametrize(("rule_id", "link", "expected"), [
    ("CVE-2024-0001", "", {"type": "cve", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"}),
    ("CVE-2024-12345", "https://security-tracker.debian.org/tracker/CVE-2024-12345",
     {"type": "cve", "url": "https://security-tracker.debian.org/tracker/CVE-2024-12345"}),
    ("CVE-2024-0001", "javascript:alert(1)", {"type": "cve", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"}),
    ("GHSA-jfh8-c2jp-5v3q", "", {"type": "ghsa", "url": "https://github.com/advisories/GHSA-jfh8-c2jp-5v3q"}),
    ("ALAS-2024-1234", "", {"type": "deepfence"}),
    ("ALAS-2024-1234", "https://alas.aws.amazon.com/ALAS-2024-1234.html",
     {"type": "deepfence", "url": "https://alas.aws.amazon.com/ALAS-2024-1234.html"}),
])
def test_identifiers(rule_id: str, link: str, expected: dict[str, str], sample_run: RunResult) -> None:
    finding = vulnerability(rule_id, Severity.HIGH, "zlib:1.2.11", link=link)
    document = gitlab(with_target(sample_run, findings=(finding,)))
    assert_valid(document)
    (entry,) = document["vulnerabilities"]
    assert entry["identifiers"] == [{"name": rule_id, "value": rule_id, **expected}]
    assert entry["name"] == f"{rule_id} in zlib"


def test_solution_links_and_dependency(sample_run: RunResult) -> None:
    finding = replace(vulnerability("CVE-2024-0001", Severity.HIGH, "openssl:3.0.2", fixed_in="3.0.14",
                                    description="Overflow.\r\nDetails."),
                      details=VulnerabilityDetails(urls=("https://a.example/1", "ftp://b.example/2",
                                                         "https://a.example/1", "file:///etc/passwd", "")))
    no_fix = vulnerability("CVE-2024-0002", Severity.HIGH, "bash:5.1")
    document = gitlab(with_target(sample_run, findings=(finding, no_fix)))
    assert_valid(document)
    fixed, unfixed = document["vulnerabilities"]
    assert fixed["solution"] == "Upgrade openssl to 3.0.14"
    assert fixed["description"] == "Overflow.\nDetails."
    assert fixed["links"] == [{"url": "https://a.example/1"}, {"url": "ftp://b.example/2"}]
    assert fixed["location"]["dependency"] == {"package": {"name": "openssl"}, "version": "3.0.2"}
    assert "solution" not in unfixed and "links" not in unfixed and "description" not in unfixed


def test_location_names_the_image_and_an_unknown_os(multi_run: RunResult) -> None:
    document = gitlab(multi_run)
    images = {e["location"]["image"] for e in document["vulnerabilities"]}
    assert images == {"registry.example.com/team/app:1.4.2", "registry.example.com/team/app:1.5.0",
                      "quay.io/acme/api:2.0"}  # no digest: GitLab keys findings on the name before the tag
    digests = {e["details"]["image_digest"]["value"] for e in document["vulnerabilities"]}
    assert digests == {"sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64}
    assert {e["location"]["operating_system"] for e in document["vulnerabilities"]} == {"unknown"}
    assert all("default_branch_image" not in e["location"] for e in document["vulnerabilities"])


def test_gitlab_tracks_a_finding_across_tags(multi_run: RunResult, nasty_run: RunResult) -> None:
    """GitLab's key for a container-scanning finding: the image up to its last `:` (the tag dropped),
    and the package. Both tags of one repository must give the same key."""
    def keys(document: dict[str, Any]) -> set[tuple[str, str]]:
        return {(e["location"]["image"].rpartition(":")[0], e["location"]["dependency"]["package"]["name"])
                for e in document["vulnerabilities"] if e["location"]["image"].startswith("registry.example.com")}

    first, second = (gitlab(single(multi_run.targets[i])) for i in (0, 1))
    shared = keys(first) & keys(second)
    assert shared and all(image == "registry.example.com/team/app" for image, _ in shared)
    assert {e["location"]["image"] for e in gitlab(nasty_run)["vulnerabilities"]} == {"localhost:5000/team/app"}


def test_ids_are_uuids_stable_across_renders_and_tags(sample_run: RunResult) -> None:
    first = gitlab(sample_run)
    ids = [e["id"] for e in first["vulnerabilities"]]
    assert ids == [e["id"] for e in gitlab(sample_run)["vulnerabilities"]]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 5 for i in ids)
    target = only(sample_run).target
    retagged = replace(target, name="registry.example.com/team/app:9.9.9", digest="sha256:" + "9" * 64)
    assert [e["id"] for e in gitlab(with_target(sample_run, target=retagged))["vulnerabilities"]] == ids


def test_ids_are_unique_within_a_report(multi_run: RunResult, nasty_run: RunResult) -> None:
    for run in (multi_run, nasty_run):  # two tags of one repository; rows the console repeated
        ids = [e["id"] for e in gitlab(run)["vulnerabilities"]]
        assert len(set(ids)) == len(ids)
    # app:1.5.0's findings are also in app:1.4.2, listed first: alone, 1.5.0 gets the ids 1.4.2 has in the run.
    in_run = {e["id"] for e in gitlab(multi_run)["vulnerabilities"]}
    alone = [e["id"] for e in gitlab(single(multi_run.targets[1]))["vulnerabilities"]]
    assert len(alone) == 2 and set(alone) <= in_run
    assert {e["id"] for e in gitlab(single(multi_run.targets[0]))["vulnerabilities"]} <= in_run


def test_scan_identifies_ci_scan_and_its_times(sample_run: RunResult) -> None:
    scan = gitlab(sample_run)["scan"]
    tool = {"id": "ci-scan", "name": "ci-scan", "vendor": {"name": "ci-scan"}, "version": __version__}
    assert scan["analyzer"] == scan["scanner"] == tool
    assert (scan["type"], scan["status"]) == ("container_scanning", "success")
    assert (scan["start_time"], scan["end_time"]) == ("2024-11-28T00:00:00", "2024-11-28T00:01:30")
    assert "messages" not in scan


def test_incomplete_targets_fail_the_scan_with_messages(multi_run: RunResult) -> None:
    scan = gitlab(multi_run)["scan"]
    assert scan["status"] == "failure"
    assert (scan["start_time"], scan["end_time"]) == ("2024-11-28T00:00:00", "2024-11-28T00:03:20")
    assert scan["messages"][:2] == [
        {"level": "fatal", "value": "registry.example.com/team/worker:3.1: the scan could not be completed: the "
                                    "console reported ERROR: failed to pull registry.example.com/team/worker:3.1: "
                                    "manifest unknown"},
        {"level": "warn", "value": "quay.io/acme/api:2.1: scan api21-scan was still running when --timeout ran out "
                                   "(last status IN_PROGRESS)"},
    ]
    assert {"level": "warn", "value": "the console did not report its version"} in scan["messages"]


def test_a_run_with_no_target_is_a_failure() -> None:
    document = json.loads(RENDER(decide_at(RunResult(targets=()))))
    assert_valid(document)
    assert document["scan"]["status"] == "failure"
    assert document["scan"]["messages"] == [{"level": "fatal", "value": "nothing was scanned"}]
    assert (document["scan"]["start_time"], document["scan"]["end_time"]) == ("1970-01-01T00:00:00",) * 2


@pytest.mark.parametrize(("starts", "ends", "expected"), [
    ((0,), (0,), ("1970-01-01T00:00:00", "1970-01-01T00:00:00")),
    ((1732752000500,), (0,), ("2024-11-28T00:00:00", "2024-11-28T00:00:00")),
    ((0,), (1732752001999,), ("2024-11-28T00:00:01", "2024-11-28T00:00:01")),
    ((1732752100000, 1732752000000), (1732752050000, 0), ("2024-11-28T00:00:00", "2024-11-28T00:00:50")),
    ((1732752100000,), (1732752050000,), ("2024-11-28T00:01:40", "2024-11-28T00:01:40")),  # never ends first
    ((10**15,), (10**15,), ("1970-01-01T00:00:00", "1970-01-01T00:00:00")),  # beyond 9999: unknown
])
def test_scan_times_never_read_the_clock(starts: tuple[int, ...], ends: tuple[int, ...],
                                         expected: tuple[str, str], sample_run: RunResult) -> None:
    template = only(sample_run)
    targets = tuple(replace(template, started_at_ms=s, finished_at_ms=e) for s, e in zip(starts, ends, strict=True))
    scan = gitlab(replace(sample_run, targets=targets))["scan"]
    assert (scan["start_time"], scan["end_time"]) == expected
    assert all(GITLAB_TIME.fullmatch(t) for t in expected)


def test_gitlab_time() -> None:
    assert gitlab_time(1732752000000) == "2024-11-28T00:00:00"
    assert gitlab_time(0) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("https://example.com/a b?x=<1>", "https://example.com/a%20b?x=%3C1%3E"),
    ("HTTPS://example.com/ü", "https://example.com/%C3%BC"),
    ("https://example.com/%2e?a=1&b=2#f", "https://example.com/%2e?a=1&b=2#f"),
    (" https://example.com/x\n", "https://example.com/x"),
    ("javascript:alert(1)", None),
    ("https://", None),
    ("", None),
])
def test_url(text: str, expected: str | None) -> None:
    assert url(text) == expected


def test_hostile_strings_survive(nasty_run: RunResult) -> None:
    text = RENDER(decide_at(nasty_run))
    text.encode("utf-8")  # no lone surrogate
    document = json.loads(text)
    assert_valid(document)
    for entry in document["vulnerabilities"]:
        for value in (entry["name"], entry["description"], details(entry, "ci_scan_reason")):
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", value)
        assert len(entry["name"]) <= NAME_LIMIT and len(entry["description"]) <= DESCRIPTION_LIMIT
        assert entry["description"].endswith("…")
        assert entry["identifiers"][0]["url"] == "https://example.com/a%20b?x=%3C1%3E"
        assert entry["links"] == [{"url": "https://example.com/advisory?id=1&x=2"}]
    assert "ünï 漢字 🚀" in document["vulnerabilities"][0]["description"]
    ghsa = by_rule(document)["GHSA-xxxx-yyyy-zzzz"][0]
    assert ghsa["name"] == "GHSA-xxxx-yyyy-zzzz in multi line name"
    assert ghsa["identifiers"][0]["type"] == "ghsa"
    assert all(m["value"] and "\x00" not in m["value"] for m in document["scan"]["messages"])


def test_the_registry_loads_this_renderer(sample_run: RunResult) -> None:
    spec = report("gitlab_report")
    renderer = spec.load()
    assert isinstance(renderer, GitlabFormat)
    assert (renderer.name, renderer.default_filename) == (spec.name, spec.default_filename)
    text = renderer.render(decide_at(sample_run))
    assert text.endswith("}\n") and text.startswith('{"version": "15.2.1"')


def test_golden_sample(sample_run: RunResult) -> None:
    """The sample run's report, pinned. Regenerate with CI_SCAN_UPDATE_GOLDEN=1 (and review the diff)."""
    assert_golden("gitlab-sample.json", RENDER(decide_at(sample_run)))
