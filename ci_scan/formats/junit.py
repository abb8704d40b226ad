"""JUnit XML for Jenkins, GitLab and Azure test reports: the gate as a test suite.

One `<testsuite>` per scanned image, named after the target. Its first `<testcase>` is always
"policy gate: fail on <threshold>": it fails with the gate's reason when the gate fails and passes
otherwise, so a clean scan shows one green test instead of an empty suite. Then one test case per
finding, most severe first, named `[CRITICAL] CVE-2024-0001 openssl:3.0.2 (/usr/lib/libssl.so.3)`
with the package name as classname.

Statuses. GitLab shows the text inside `<failure>`/`<skipped>` and nothing for a passed case, so
every finding carries its reason and details as element text:
- `<failure>`: the finding fails the gate.
- `<skipped>`: it does not: "masked in the console", "below the --fail-on threshold <x>", or
  "not gated: --fail-on none (report only)". A vulnerability is never reported as a passed test:
  that would read as "checked and fine" and hide the finding's details.

GitLab keys test cases on suite + classname + name and keeps only the last of duplicates, so names
include the package path and a name still repeated gets " #2", " #3"... in report order.

The output validates against Jenkins xunit's junit-10.xsd, and against the strict Ant schema
(windyroad) whenever the scan's start time and console URL are known (its required `timestamp` and
`hostname`; no clock or machine name is read). Times are plain seconds with three decimals; the
policy gate case carries the scan's duration, findings 0. No `type` attribute names an
ActiveSupport type (GitLab refuses `yaml` and `symbol`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from junit_xml import TestCase, TestSuite

from ci_scan import __version__
from ci_scan.formats.base import (
    duration_ms,
    report_order,
    repository_name,
    url_host,
    utc_datetime,
)
from ci_scan.formats.text import detail_lines, fix_text, gate_reason, headline, one_line, shorten
from ci_scan.gate import GateDecision
from ci_scan.models import ScanResult

DESCRIPTION_LIMIT = 4000
"""Characters of a finding's description kept in the report (GitLab refuses files over 30 MB)."""
GATE_FINDINGS_LISTED = 50

_ILLEGAL_XML = re.compile(r"[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_CASE_ATTRIBUTES = frozenset({"name", "classname", "time"})


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 forbids, line ends as `\\n`."""
    return _ILLEGAL_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


class JunitFormat:
    name = "junit"
    description = "JUnit XML test report (GitLab, Jenkins, Azure DevOps); the gate as a test case"
    default_filename = "ci-scan.junit.xml"

    def render(self, result: ScanResult, decision: GateDecision) -> str:
        cases = [_gate_case(result, decision), *_finding_cases(result, decision)]
        _make_names_unique(cases)
        started = utc_datetime(result.started_at_ms)
        suite = TestSuite(
            name=xml_text(result.target.name),
            test_cases=cases,
            hostname=xml_text(url_host(result.console_url)),
            id="0",
            package=xml_text(repository_name(result.target)),
            timestamp=started.strftime("%Y-%m-%dT%H:%M:%S") if started else None,
            properties=_properties(result, decision),
        )
        root = ET.Element("testsuites")
        root.append(_conform(suite.build_xml_doc(), result, decision))
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _gate_case(result: ScanResult, decision: GateDecision) -> TestCase:
    case = TestCase(
        name=f"policy gate: fail on {decision.policy.threshold_label}",
        classname=xml_text(f"ci-scan.{result.target.name}"),
    )
    if not decision.passed:
        lines = [decision.reason, "", "Failing findings, most severe first:"]
        lines += [f"- {headline(f)}; {fix_text(f)}" for f in decision.failing[:GATE_FINDINGS_LISTED]]
        if len(decision.failing) > GATE_FINDINGS_LISTED:
            lines.append(f"- ... and {len(decision.failing) - GATE_FINDINGS_LISTED} more")
        if result.console_url:
            lines += ["", f"Console: {result.console_url} (scan {result.scan_id})"]
        case.add_failure_info(
            message=xml_text(one_line(decision.reason)),
            output=xml_text("\n".join(lines)),
            failure_type="PolicyGateFailed",
        )
    return case


def _finding_cases(result: ScanResult, decision: GateDecision) -> list[TestCase]:
    cases = []
    for finding in report_order(result.findings):
        status = decision.status(finding)
        reason = gate_reason(status, finding, decision.policy)
        name = f"[{finding.severity.name}] {finding.cve_id} {finding.package}"
        case = TestCase(
            name=xml_text(one_line(f"{name} ({finding.package_path})" if finding.package_path else name)),
            classname=xml_text(one_line(finding.package_name) or f"ci-scan.{result.target.name}"),
        )
        body = [reason, *detail_lines(finding)]
        if finding.description.strip():
            body += ["", shorten(finding.description.strip(), DESCRIPTION_LIMIT)]
        text = xml_text("\n".join(body))
        if status == "failed":
            case.add_failure_info(
                message=xml_text(one_line(headline(finding))), output=text, failure_type="Vulnerability"
            )
        else:
            case.add_skipped_info(message=xml_text(reason), output=text)
        cases.append(case)
    return cases


def _make_names_unique(cases: list[TestCase]) -> None:
    """Append " #2", " #3"... to a name already taken, keyed as GitLab keys cases: `classname_name`."""
    taken: set[str] = set()
    for case in cases:
        name, number = case.name, 1
        while f"{case.classname}_{name}" in taken:
            number += 1
            name = f"{case.name} #{number}"
        case.name = name
        taken.add(f"{case.classname}_{name}")


def _properties(result: ScanResult, decision: GateDecision) -> dict[str, str]:
    target = result.target
    values = {
        "ci-scan.version": __version__,
        "scan.id": result.scan_id,
        "scan.console_url": result.console_url,
        "target.node_id": target.node_id,
        "target.node_type": target.node_type,
        "target.digest": target.digest or "",
        "gate.fail_on": decision.policy.threshold_label,
        "gate.verdict": decision.verdict,
        "gate.reason": decision.reason,
    }
    return {key: xml_text(one_line(value)) for key, value in values.items() if value}


def _summary(result: ScanResult, decision: GateDecision) -> str:
    counts = ", ".join(f"{n} {severity.label}" for severity, n in result.counts().items())
    masked = len(result.suppressed)
    lines = [
        f"ci-scan {__version__}: scan {result.scan_id} of {result.target.name}",
        f"Unmasked findings: {counts}; {masked} masked",
        f"Gate (--fail-on {decision.policy.threshold_label}): {decision.verdict}: {decision.reason}",
    ]
    if result.console_url:
        lines.insert(1, f"Console: {result.console_url}")
    return "\n".join(lines)


def _conform(suite: ET.Element, result: ScanResult, decision: GateDecision) -> ET.Element:
    """Make junit-xml's tree valid for junit-10.xsd and the Ant schema: attributes, times, order."""
    scan_time = seconds(duration_ms(result))
    suite.attrib.pop("disabled", None)
    suite.set("time", scan_time)
    cases = suite.findall("testcase")
    for index, case in enumerate(cases):
        for attribute in set(case.attrib) - _CASE_ATTRIBUTES:
            del case.attrib[attribute]
        case.set("time", scan_time if index == 0 else "0.000")  # the policy gate case comes first
        for skipped in case.iter("skipped"):
            skipped.attrib.pop("type", None)
    properties = suite.find("properties")
    if properties is None:
        properties = ET.Element("properties")
    system_out = ET.Element("system-out")
    system_out.text = xml_text(_summary(result, decision))
    system_err = ET.Element("system-err")
    system_err.text = xml_text("\n".join(result.warnings))
    suite[:] = [properties, *cases, system_out, system_err]
    return suite
