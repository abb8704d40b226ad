"""JUnit report: schema validity, one case per finding with the gate's status, GitLab's parsing rules.

The strict Ant schema (JUnit.windyroad.xsd) is checked too: it requires the suite's `timestamp` and
`hostname`, which the renderer writes only when the scan start time and console URL are known, so
that check uses results that have both (every fixture here does).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from functools import cache

import pytest
import xmlschema

from ci_scan.formats.junit import JunitFormat
from ci_scan.models import ScanResult
from tests.conftest import shared_path
from tests.formats.helpers import LARGE_SIZE, decide

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


@pytest.mark.parametrize("fail_on", ["critical", "high", "low", "none"])
@pytest.mark.parametrize("fixture", ["sample_result", "empty_result", "nasty_result"])
@pytest.mark.parametrize("xsd", ["junit-10.xunit-plugin.xsd", "JUnit.windyroad.xsd"])
def test_validates_against_both_xsds(fixture: str, fail_on: str, xsd: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(fixture)
    schema(xsd).validate(RENDER(result, decide(result, fail_on)))


def test_a_suite_without_start_time_or_console_is_still_junit_10(sample_result: ScanResult) -> None:
    result = replace(sample_result, console_url="", started_at_ms=0, finished_at_ms=0)
    xml = RENDER(result, decide(result))
    schema("junit-10.xunit-plugin.xsd").validate(xml)
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert "timestamp" not in suite.attrib and "hostname" not in suite.attrib
    assert suite.get("time") == "0.000"


def test_sample_cases_carry_the_gate_status(sample_result: ScanResult) -> None:
    root, cases = parse(RENDER(sample_result, decide(sample_result, "high")))
    assert [suite.get("name") for suite in root.iter("testsuite")] == ["registry.example.com/team/app:1.4.2"]
    assert [(case.name, case.classname, case.status) for case in cases] == [
        ("policy gate: fail on high", "ci-scan.registry.example.com/team/app:1.4.2", "failed"),
        ("[CRITICAL] CVE-2024-0001 openssl:3.0.2", "openssl", "failed"),
        ("[CRITICAL] CVE-2024-0001 openssl:3.0.2 (/usr/lib/libssl.so.3)", "openssl", "failed"),
        ("[CRITICAL] CVE-2024-0005 curl:7.68.0", "curl", "skipped"),
        ("[HIGH] CVE-2024-0002 lodash:4.17.20 (/app/node_modules/lodash/package.json)", "lodash", "failed"),
        ("[MEDIUM] CVE-2024-0003 zlib:1.2.11", "zlib", "skipped"),
        ("[LOW] CVE-2024-0004 bash:5.1", "bash", "skipped"),
        ("[UNKNOWN] GHSA-aaaa-bbbb-cccc left-pad:1.0.0", "left-pad", "skipped"),
    ]
    suite = root.find("testsuite")
    assert suite is not None
    assert {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8",
        "failures": "4",
        "errors": "0",
        "skipped": "4",
    }


def test_skip_reasons_come_first_in_the_text(sample_result: ScanResult) -> None:
    cases = by_name(parse(RENDER(sample_result, decide(sample_result, "high")))[1])
    masked = cases["[CRITICAL] CVE-2024-0005 curl:7.68.0"]
    below = cases["[MEDIUM] CVE-2024-0003 zlib:1.2.11"]
    assert masked.text.splitlines()[0] == masked.message == "masked in the console"
    assert below.text.splitlines()[0] == below.message == "below the --fail-on threshold high"
    assert "Package: zlib:1.2.11" in below.text.splitlines()


def test_failure_text_holds_what_a_developer_needs(sample_result: ScanResult) -> None:
    case = by_name(parse(RENDER(sample_result, decide(sample_result, "high")))[1])[
        "[CRITICAL] CVE-2024-0001 openssl:3.0.2"
    ]
    lines = case.text.splitlines()
    assert lines[0] == "fails the gate: critical is at or above --fail-on high"
    for expected in (
        "Severity: critical",
        "Package: openssl:3.0.2",
        "Fixed in: 3.0.14",
        "Console score: 9.8",
        "Link: https://nvd.nist.gov/vuln/detail/CVE-2024-0001",
    ):
        assert expected in lines
    assert lines[-1] == 'Buffer overflow <in> "openssl" & friends'


def test_gate_case_explains_a_failed_gate(sample_result: ScanResult) -> None:
    decision = decide(sample_result, "high")
    gate = parse(RENDER(sample_result, decision))[1][0]
    assert gate.status == "failed"
    assert gate.text.splitlines()[0] == decision.reason
    assert (
        "- CVE-2024-0002 (high, score 7.5) in lodash:4.17.20 at /app/node_modules/lodash/package.json; "
        "no fixed version known" in gate.text.splitlines()
    )


@pytest.mark.parametrize(("only_masked", "fail_on"), [(True, "critical"), (True, "none"), (False, "none")])
def test_gate_case_passes_when_nothing_fails(sample_result: ScanResult, only_masked: bool, fail_on: str) -> None:
    findings = tuple(f for f in sample_result.findings if f.suppressed or not only_masked)
    result = replace(sample_result, findings=findings)
    cases = parse(RENDER(result, decide(result, fail_on)))[1]
    assert len(cases) == len(findings) + 1
    assert cases[0] == Case(f"policy gate: fail on {fail_on}", cases[0].classname, "passed", "", "")
    assert [case.status for case in cases[1:]] == ["skipped"] * len(findings)


def test_report_only_findings_are_skipped_not_passed(sample_result: ScanResult) -> None:
    cases = parse(RENDER(sample_result, decide(sample_result, "none")))[1]
    statuses = {case.name: (case.status, case.message) for case in cases[1:]}
    assert statuses["[CRITICAL] CVE-2024-0005 curl:7.68.0"] == ("skipped", "masked in the console")
    assert statuses["[CRITICAL] CVE-2024-0001 openssl:3.0.2"] == (
        "skipped",
        "not gated: --fail-on none (report only)",
    )


def test_clean_scan_is_one_green_test(empty_result: ScanResult) -> None:
    root, cases = parse(RENDER(empty_result, decide(empty_result, "low")))
    assert cases == [Case("policy gate: fail on low", "ci-scan.alpine:3.20", "passed", "", "")]
    suite = root.find("testsuite")
    assert suite is not None and suite.get("time") == "1.234"


def test_case_keys_are_unique_even_for_repeated_findings(nasty_result: ScanResult) -> None:
    cases = parse(RENDER(nasty_result, decide(nasty_result)))[1]
    keys = [(case.classname, case.name) for case in cases]
    assert len(keys) == len(set(keys)) == len(nasty_result.findings) + 1
    repeated = "[CRITICAL] CVE-2024-1000 lib:evil:1.0 (/opt/my app/lib:v2/file name.jar)"
    assert [name for _, name in keys if name.startswith(repeated)] == [
        repeated,
        f"{repeated} #2",
        f"{repeated} #3",
    ]


def test_hostile_strings_are_escaped_or_dropped(nasty_result: ScanResult) -> None:
    xml = RENDER(nasty_result, decide(nasty_result))
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", xml)
    root, cases = parse(xml)
    texts = "\n".join(case.text for case in cases)
    assert "<b>&amp;</b> ]]>" in texts and "ünï 漢字 🚀" in texts
    assert all("\n" not in case.name and "\t" not in case.name for case in cases)
    assert "[LOW] GHSA-xxxx-yyyy-zzzz multi line name:1" in {case.name for case in cases}
    assert len(texts) < 60_000, "descriptions are cut short"
    system_err = root.find("testsuite/system-err")
    assert system_err is not None and (system_err.text or "").startswith("the console returned 2 duplicate rows")


@pytest.mark.parametrize("fixture", ["sample_result", "nasty_result", "empty_result"])
def test_no_activesupport_type_and_plain_times(fixture: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(fixture)
    root = ET.fromstring(RENDER(result, decide(result)))
    types = {element.get("type") for element in root.iter()} - {None}
    assert not types & ACTIVESUPPORT_TYPES
    times = [element.get("time") for element in root.iter() if "time" in element.attrib]
    assert times and all(re.fullmatch(r"\d+\.\d{3}", str(time)) for time in times)


def test_sample_types_are_exception_like_names(sample_result: ScanResult) -> None:
    root = ET.fromstring(RENDER(sample_result, decide(sample_result)))
    assert {element.get("type") for element in root.iter() if "type" in element.attrib} == {
        "PolicyGateFailed",
        "Vulnerability",
    }


def test_twenty_thousand_findings(large_result: ScanResult) -> None:
    xml = RENDER(large_result, decide(large_result, "critical"))
    cases = parse(xml)[1]
    assert len(cases) == LARGE_SIZE + 1
    assert len({(case.classname, case.name) for case in cases}) == LARGE_SIZE + 1
    failing = sum(case.status == "failed" for case in cases[1:])
    assert failing == len(decide(large_result, "critical").failing) > 0
    assert len(xml.encode()) < 30 * 1024 * 1024, "GitLab refuses JUnit files over 30 MB"
