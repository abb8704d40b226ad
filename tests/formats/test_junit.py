"""JUnit report: schema validity, a suite per target, one case per finding with its disposition, GitLab's rules.

The strict Ant schema (JUnit.windyroad.xsd) is checked too: it requires the suite's `timestamp` and
`hostname`, which the renderer writes only when the scan start time and console URL are known, so
that check uses runs that have both (every fixture here does).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from functools import cache

import pytest
import xmlschema

from ci_scan.formats.junit import JunitFormat
from ci_scan.models import RunResult, TargetResult, report_key
from tests.conftest import shared_path
from tests.formats.helpers import LARGE_SIZE, decide, image_target, only, with_target

APP = "registry.example.com/team/app:1.4.2"

RENDER = JunitFormat().render
ACTIVESUPPORT_TYPES = {
    "yaml",
    "symbol",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "dateTime",
    "string",
    "base64Binary",
    "binary",
    "file",
    "double",
    "array",
    "hash",
}


@cache
def schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(shared_path("schemas", name))


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    status: str
    text: str
    message: str


def parse(xml: str) -> tuple[ET.Element, list[Case]]:
    root = ET.fromstring(xml.encode("utf-8"))
    cases = []
    for element in root.iter("testcase"):
        outcome = next(iter(element), None)
        status = {"failure": "failed", "skipped": "skipped", "error": "error"}.get(
            outcome.tag if outcome is not None else "", "passed"
        )
        cases.append(
            Case(
                name=element.get("name", ""),
                classname=element.get("classname", ""),
                status=status,
                text=outcome.text or "" if outcome is not None else "",
                message=outcome.get("message", "") if outcome is not None else "",
            )
        )
    return root, cases


def by_name(cases: list[Case]) -> dict[str, Case]:
    return {case.name: case for case in cases}


def suites(xml: str) -> dict[str, tuple[ET.Element, list[Case]]]:
    """Each suite by name, with its cases."""
    root = ET.fromstring(xml.encode("utf-8"))
    found = {}
    for suite in root.iter("testsuite"):
        found[suite.get("name", "")] = (suite, parse(ET.tostring(suite, encoding="unicode"))[1])
    return found


def suite_counts(suite: ET.Element) -> dict[str, str | None]:
    return {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")}


def properties(suite: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


@pytest.mark.parametrize("fail_on", ["critical", "high", "low", "none"])
@pytest.mark.parametrize("fixture", ["sample_run", "empty_run", "nasty_run", "multi_run"])
@pytest.mark.parametrize("xsd", ["junit-10.xunit-plugin.xsd", "JUnit.windyroad.xsd"])
def test_validates_against_both_xsds(fixture: str, fail_on: str, xsd: str, request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue(fixture)
    schema(xsd).validate(RENDER(decide(run, fail_on)))


def test_a_suite_without_start_time_or_console_is_still_junit_10(sample_run: RunResult) -> None:
    run = replace(with_target(sample_run, started_at_ms=0, finished_at_ms=0), console_url="")
    xml = RENDER(decide(run))
    schema("junit-10.xunit-plugin.xsd").validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert "timestamp" not in suite.attrib and "hostname" not in suite.attrib
    assert suite.get("time") == "0.000"


def test_sample_cases_carry_the_gate_status(sample_run: RunResult) -> None:
    root, cases = parse(RENDER(decide(sample_run, "high")))
    assert [suite.get("name") for suite in root.iter("testsuite")] == ["registry.example.com/team/app:1.4.2"]
    assert [(case.name, case.classname, case.status) for case in cases] == [
        ("policy gate: fail on high", "ci-scan.registry.example.com/team/app:1.4.2", "failed"),
        ("CVE-2024-0001 openssl@3.0.2", f"{APP} / openssl", "failed"),
        ("CVE-2024-0001 openssl@3.0.2 (/usr/lib/libssl.so.3)", f"{APP} / openssl", "failed"),
        ("CVE-2024-0005 curl@7.68.0", f"{APP} / curl", "skipped"),
        ("CVE-2024-0002 lodash@4.17.20 (/app/node_modules/lodash/package.json)", f"{APP} / lodash", "failed"),
        ("CVE-2024-0003 zlib@1.2.11", f"{APP} / zlib", "passed"),
        ("CVE-2024-0004 bash@5.1", f"{APP} / bash", "passed"),
        ("GHSA-aaaa-bbbb-cccc left-pad@1.0.0", f"{APP} / left-pad", "passed"),
    ]
    suite = root.find("testsuite")
    assert suite is not None
    assert {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8",
        "failures": "4",
        "errors": "0",
        "skipped": "1",  # the masked finding; the counted ones below the threshold pass
    }


def test_skip_reasons_come_first_in_the_text(sample_run: RunResult) -> None:
    cases = by_name(parse(RENDER(decide(sample_run, "high")))[1])
    masked = cases["CVE-2024-0005 curl@7.68.0"]
    below = cases["CVE-2024-0003 zlib@1.2.11"]
    assert masked.text.splitlines()[0] == masked.message == "masked in the console"
    assert "Package: curl:7.68.0" in masked.text.splitlines()
    assert (below.status, below.text, below.message) == ("passed", "", "")  # counted, and it passes


def test_failure_text_holds_what_a_developer_needs(sample_run: RunResult) -> None:
    case = by_name(parse(RENDER(decide(sample_run, "high")))[1])["CVE-2024-0001 openssl@3.0.2"]
    lines = case.text.splitlines()
    assert lines[0] == "fails the gate: critical is at or above --fail-on high"
    for expected in (
        "Severity: critical",
        "Package: openssl:3.0.2",
        "Fixed in: 3.0.14",
        "Console score (cve_cvss_score): 9.8",
        "Link: https://nvd.nist.gov/vuln/detail/CVE-2024-0001",
    ):
        assert expected in lines
    assert lines[-1] == 'Buffer overflow <in> "openssl" & friends'


def test_gate_case_explains_a_failed_gate(sample_run: RunResult) -> None:
    decision = decide(sample_run, "high")
    gate = parse(RENDER(decision))[1][0]
    assert gate.status == "failed"
    assert gate.text.splitlines()[0] == decision.reason
    assert (
        "- CVE-2024-0002 (high) in lodash:4.17.20 at /app/node_modules/lodash/package.json; "
        "no fixed version known" in gate.text.splitlines()
    )


@pytest.mark.parametrize(("only_masked", "fail_on"), [(True, "critical"), (True, "none"), (False, "none")])
def test_gate_case_passes_when_nothing_fails(sample_run: RunResult, only_masked: bool, fail_on: str) -> None:
    findings = tuple(f for f in only(sample_run).findings if f.masked or not only_masked)
    run = with_target(sample_run, findings=findings)
    cases = parse(RENDER(decide(run, fail_on)))[1]
    assert len(cases) == len(findings) + 1
    assert cases[0] == Case(f"policy gate: fail on {fail_on}", cases[0].classname, "passed", "", "")
    in_order = sorted(findings, key=report_key)
    assert [case.status for case in cases[1:]] == ["skipped" if f.masked else "passed" for f in in_order]


def test_report_only_findings_pass_and_suppressed_ones_are_skipped(sample_run: RunResult) -> None:
    cases = parse(RENDER(decide(sample_run, "none")))[1]
    statuses = {case.name: (case.status, case.message) for case in cases[1:]}
    assert statuses["CVE-2024-0005 curl@7.68.0"] == ("skipped", "masked in the console")
    assert statuses["CVE-2024-0001 openssl@3.0.2"] == ("passed", "")


def test_clean_scan_is_one_green_test(empty_run: RunResult) -> None:
    root, cases = parse(RENDER(decide(empty_run, "low")))
    assert cases == [Case("policy gate: fail on low", "ci-scan.alpine:3.20", "passed", "", "")]
    suite = root.find("testsuite")
    assert suite is not None and suite.get("time") == "1.234"


def test_case_keys_are_unique_even_for_repeated_findings(nasty_run: RunResult) -> None:
    cases = parse(RENDER(decide(nasty_run)))[1]
    keys = [(case.classname, case.name) for case in cases]
    assert len(keys) == len(set(keys)) == len(only(nasty_run).findings) + 1
    repeated = "CVE-2024-1000 lib:evil@1.0 (/opt/my app/lib:v2/file name.jar)"
    assert [name for _, name in keys if name.startswith(repeated)] == [
        repeated,
        f"{repeated} #2",
        f"{repeated} #3",
    ]


def test_hostile_strings_are_escaped_or_dropped(nasty_run: RunResult) -> None:
    xml = RENDER(decide(nasty_run))
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", xml)
    root, cases = parse(xml)
    texts = "\n".join(case.text for case in cases)
    assert "<b>&amp;</b> ]]>" in texts and "ünï 漢字 🚀" in texts
    assert all("\n" not in case.name and "\t" not in case.name for case in cases)
    assert "GHSA-xxxx-yyyy-zzzz multi line name@1" in {case.name for case in cases}
    assert len(texts) < 60_000, "descriptions are cut short"
    system_err = root.find("testsuite/system-err")
    assert system_err is not None and (system_err.text or "").startswith("the console returned 2 duplicate rows")


@pytest.mark.parametrize("fixture", ["sample_run", "nasty_run", "empty_run", "multi_run"])
def test_no_activesupport_type_and_plain_times(fixture: str, request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue(fixture)
    root = ET.fromstring(RENDER(decide(run)))
    types = {element.get("type") for element in root.iter()} - {None}
    assert not types & ACTIVESUPPORT_TYPES
    times = [element.get("time") for element in root.iter() if "time" in element.attrib]
    assert times and all(re.fullmatch(r"\d+\.\d{3}", str(time)) for time in times)


def test_sample_types_are_exception_like_names(sample_run: RunResult) -> None:
    root = ET.fromstring(RENDER(decide(sample_run)))
    assert {element.get("type") for element in root.iter() if "type" in element.attrib} == {
        "PolicyGateFailed",
        "Vulnerability",
    }


def test_twenty_thousand_findings(large_run: RunResult) -> None:
    xml = RENDER(decide(large_run, "critical"))
    cases = parse(xml)[1]
    assert len(cases) == LARGE_SIZE + 1
    assert len({(case.classname, case.name) for case in cases}) == LARGE_SIZE + 1
    failing = sum(case.status == "failed" for case in cases[1:])
    assert failing == len(decide(large_run, "critical").failing) > 0
    assert len(xml.encode()) < 30 * 1024 * 1024, "GitLab refuses JUnit files over 30 MB"


def test_one_suite_per_target_in_the_runs_order(multi_run: RunResult) -> None:
    found = suites(RENDER(decide(multi_run, "high")))
    assert list(found) == [
        "registry.example.com/team/app:1.4.2",
        "registry.example.com/team/app:1.5.0",
        "quay.io/acme/api:2.0",
        "registry.example.com/team/worker:3.1",
        "quay.io/acme/api:2.1",
    ]
    statuses = {name: [(case.name, case.status) for case in cases] for name, (_, cases) in found.items()}
    assert statuses["registry.example.com/team/app:1.5.0"] == [
        ("policy gate: fail on high", "passed"),
        ("CVE-2024-0003 zlib@1.2.11", "passed"),
        ("CVE-2024-0004 bash@5.1", "passed"),
    ]
    assert statuses["quay.io/acme/api:2.0"][0] == ("policy gate: fail on high", "failed")
    app, app_cases = found["registry.example.com/team/app:1.4.2"]
    assert suite_counts(app) == {"tests": "8", "failures": "4", "errors": "0", "skipped": "1"}
    assert app_cases[0].classname == "ci-scan.registry.example.com/team/app:1.4.2"
    assert [suite.get("id") for suite, _ in found.values()] == ["0", "1", "2", "3", "4"]
    assert {suite.get("package") for suite, _ in found.values()} == {
        "registry.example.com/team/app",
        "quay.io/acme/api",
        "registry.example.com/team/worker",
    }


def test_each_suite_names_its_scan_and_digest(multi_run: RunResult) -> None:
    found = suites(RENDER(decide(multi_run, "high")))
    passing = properties(found["registry.example.com/team/app:1.5.0"][0])
    assert {key: passing[key] for key in ("scan.id", "scan.status", "target.digest", "gate.verdict")} == {
        "scan.id": "app150-scan",
        "scan.status": "COMPLETE",
        "target.digest": "sha256:" + "2" * 64,
        "gate.verdict": "passed",
    }
    assert passing["gate.reason"] == "no finding at or above high"
    worker = properties(found["registry.example.com/team/worker:3.1"][0])
    assert "target.digest" not in worker, "no digest is known for a scan that could not pull the image"
    assert (worker["scan.id"], worker["gate.verdict"]) == ("worker31-scan", "incomplete")


@pytest.mark.parametrize(
    ("name", "error_type", "verdict"),
    [
        ("registry.example.com/team/worker:3.1", "ScanIncomplete", "incomplete"),
        ("quay.io/acme/api:2.1", "ScanTimedOut", "timed_out"),
    ],
)
def test_a_target_not_completed_is_one_error_case(multi_run: RunResult, name: str, error_type: str,
                                                  verdict: str) -> None:
    decision = decide(multi_run, "high")
    (target,) = [t for t in decision.targets if t.result.target.name == name]
    assert target.verdict == verdict
    suite, cases = suites(RENDER(decision))[name]
    assert suite_counts(suite) == {"tests": "1", "failures": "0", "errors": "1", "skipped": "0"}
    (case,) = cases
    assert (case.name, case.status, case.message) == ("policy gate: fail on high", "error", target.reason)
    assert case.text.splitlines()[0] == target.reason
    error = suite.find("testcase/error")
    assert error is not None and error.get("type") == error_type


def test_the_error_message_carries_the_consoles_message(multi_run: RunResult) -> None:
    _, (case,) = suites(RENDER(decide(multi_run)))["registry.example.com/team/worker:3.1"]
    assert "failed to pull registry.example.com/team/worker:3.1: manifest unknown" in case.message
    assert case.text.splitlines()[1:] == ["", "Console: https://console.example.com (scan worker31-scan)"]


def test_the_error_text_adds_a_status_the_reason_does_not_name(multi_run: RunResult) -> None:
    worker = replace(multi_run.targets[3], error="the scan was stopped", status="CANCELLED")
    decision = decide(replace(multi_run, targets=(worker,)))
    _, (case,) = suites(RENDER(decision))["registry.example.com/team/worker:3.1"]
    assert "CANCELLED" not in decision.reason
    assert case.text.splitlines() == [
        decision.reason,
        "",
        "Last status of the scan: CANCELLED",
        "",
        "Console: https://console.example.com (scan worker31-scan)",
    ]


def test_a_target_that_never_started_is_still_junit_10(sample_run: RunResult) -> None:
    never = TargetResult(target=image_target("reg.io/team/gone:1.0"), error="the image is not in any registry")
    run = replace(sample_run, targets=(*sample_run.targets, never))
    xml = RENDER(decide(run))
    schema("junit-10.xunit-plugin.xsd").validate(xml)
    suite, (case,) = suites(xml)["reg.io/team/gone:1.0"]
    assert case.status == "error" and "the image is not in any registry" in case.message
    assert "timestamp" not in suite.attrib and suite.get("time") == "0.000"
    assert "scan.id" not in properties(suite)


def test_targets_of_one_tag_get_digests_in_their_suite_names(sample_run: RunResult) -> None:
    sample = only(sample_run)
    amd64 = replace(sample, target=replace(sample.target, digest="sha256:" + "a1" * 32))
    arm64 = replace(sample, target=replace(sample.target, digest="sha256:" + "b2" * 32, node_id="arm"))
    xml = RENDER(decide(replace(sample_run, targets=(amd64, arm64))))
    schema("JUnit.windyroad.xsd").validate(xml)
    found = suites(xml)
    assert list(found) == [
        "registry.example.com/team/app:1.4.2 (a1a1a1a1a1a1)",
        "registry.example.com/team/app:1.4.2 (b2b2b2b2b2b2)",
    ]
    assert [properties(suite)["target.digest"] for suite, _ in found.values()] == [
        "sha256:" + "a1" * 32,
        "sha256:" + "b2" * 32,
    ]


def test_gitlab_keys_are_unique_across_the_file(multi_run: RunResult) -> None:
    """GitLab keys a case on suite name + classname + name; two suites may hold the same finding."""
    duplicate = multi_run.targets[0]
    run = replace(multi_run, targets=(*multi_run.targets, duplicate))  # the same image given twice
    keys = [
        (name, case.classname, case.name)
        for name, (_, cases) in suites(RENDER(decide(run))).items()
        for case in cases
    ]
    assert len(keys) == len(set(keys)) == sum(len(t.findings) + 1 if t.completed else 1 for t in run.targets)
    assert "registry.example.com/team/app:1.4.2 #2" in {name for name, _, _ in keys}


def test_warnings_of_the_target_then_of_the_run(multi_run: RunResult) -> None:
    suite, _ = suites(RENDER(decide(multi_run)))["quay.io/acme/api:2.0"]
    system_err = suite.find("system-err")
    assert system_err is not None
    assert (system_err.text or "").splitlines() == [
        "the console returned 1 duplicate row",
        "the console did not report its version",
    ]
    system_out = suite.find("system-out")
    assert system_out is not None
    assert (system_out.text or "").splitlines()[-1] == (
        "Gate FAILED (--fail-on high): 1 finding(s) at or above high: 1 high"
    )


@pytest.mark.parametrize(("error", "timed_out", "status"), [("", False, "ScanIncomplete"),
                                                             ("the console is unreachable", False, "ScanIncomplete"),
                                                             ("timed out signing in", True, "ScanTimedOut")])
def test_a_run_without_targets_is_one_error_saying_why(sample_run: RunResult, error: str, timed_out: bool,
                                                       status: str) -> None:
    decision = decide(replace(sample_run, targets=(), error=error, timed_out=timed_out))
    xml = RENDER(decision)
    schema("junit-10.xunit-plugin.xsd").validate(xml)
    (suite,) = ET.fromstring(xml).findall("testsuite")
    (case,) = parse(xml)[1]
    assert (case.status, case.message) == ("error", error or "nothing was scanned")
    error_element = suite.find("testcase/error")
    assert error_element is not None and error_element.get("type") == status
    assert properties(suite)["gate.verdict"] == ("timed_out" if timed_out else "incomplete")


def test_a_report_over_its_byte_budget_shortens_descriptions_and_says_so(sample_run: RunResult) -> None:
    long = tuple(replace(f, description="word " * 3000) for f in only(sample_run).findings)
    run = with_target(sample_run, findings=long)
    whole = JunitFormat().render(decide(run, "critical"))
    budget = len(whole.encode()) // 2
    cut = JunitFormat(byte_budget=budget).render(decide(run, "critical"))
    assert len(cut.encode()) <= budget
    schema("junit-10.xunit-plugin.xsd").validate(cut)
    (suite,) = ET.fromstring(cut).iter("testsuite")
    assert properties(suite)["ci-scan.shortened"].startswith("descriptions cut to ")
    assert "ci-scan.shortened" not in whole
    # The verdicts stay whatever the budget: only descriptions go.
    assert [c.status for c in parse(cut)[1]] == [c.status for c in parse(whole)[1]]


def test_a_report_far_over_its_budget_drops_descriptions_then_details(sample_run: RunResult) -> None:
    long = tuple(replace(f, description="word " * 3000) for f in only(sample_run).findings)
    run = with_target(sample_run, findings=long)
    decision = decide(run, "critical")
    bare = JunitFormat(byte_budget=10**9)._render(decision, 0, details=False)
    budget = len(bare.encode()) + 10  # room for nothing but the reasons
    cut = JunitFormat(byte_budget=budget).render(decision)
    assert len(cut.encode()) <= budget + 400  # the note itself is the only growth
    (suite,) = ET.fromstring(cut).iter("testsuite")
    assert "details of findings that do not count" in properties(suite)["ci-scan.shortened"]
    failing = [c for c in parse(cut)[1][1:] if c.status == "failed"]
    assert failing and all("Severity: critical" in c.text for c in failing), "a failing finding keeps its details"
