"""JUnit XML for Jenkins, GitLab and Azure test reports: the gate as test suites, one per target.

One `<testsuite>` per target inside `<testsuites>`, in the run's order, named after the target.
Suite names are unique: targets that share a name (one tag, several digests) get the first 12 hex
digits of their digest, `app:1.0 (0123456789ab)`, and a name still taken gets " #2".

A completed target's first `<testcase>` is always "policy gate: fail on <threshold>": it fails with
the target's reason when the target fails the gate and passes otherwise, so a clean scan shows one
green test instead of an empty suite. Then one test case per finding, most severe first, named
`CVE-2024-0001 openssl@3.0.2 (/usr/lib/libssl.so.3)` with `<target> / <package>` as classname.

A target whose scan could not be completed or timed out gets a suite with that one "policy gate"
case only, carrying an `<error>` (type `ScanIncomplete` or `ScanTimedOut`) whose message is the
target's reason (the console's message included): Jenkins and GitLab show an error, not a failure,
since nothing is known about its findings.

Statuses, one per disposition. GitLab shows the text inside `<failure>`/`<error>`/`<skipped>`:
- `<failure>`: the finding fails the gate, with its reason and details (severity, scores, fixed-in,
  link, description).
- `<skipped>`: a criterion never counted it: masked in the console, suppressed by VEX, ignored,
  already in the baseline, or unfixed under --ignore-unfixed, the reason first.
- passed: it was counted and no criterion that tripped counted it (also when its ignore entry has
  expired); the JSON and SARIF reports hold its details.

A report that would exceed its byte budget (25 MB; GitLab refuses JUnit files over 30 MB) has its
descriptions cut to what fits, then left out, then the details of findings that do not count, and
says so in each suite's `ci-scan.shortened` property; verdicts and reasons are never cut.

GitLab keys test cases on suite + classname + name and keeps only the last of duplicates. Suite
names are unique in the file; within a suite, names include the package path and a name still
repeated gets " #2", " #3"... in report order. So every key is unique across the whole file.

Each suite's `<properties>` name the scan (`scan.id`, `scan.status`, `scan.console_url`), the target
(`target.node_id`, `target.node_type`, `target.digest`: the digest that was scanned) and its gate
(`gate.fail_on`, `gate.verdict`, `gate.reason`). `<system-out>` summarises the target, `<system-err>`
holds its warnings, then the run's.

The output validates against Jenkins xunit's junit-10.xsd, and against the strict Ant schema
(windyroad) whenever each scan's start time and the console URL are known (its required `timestamp`
and `hostname`; no clock or machine name is read). Times are plain seconds with three decimals; the
policy gate case carries the scan's duration, findings 0. No `type` attribute names an
ActiveSupport type (GitLab refuses `yaml` and `symbol`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from junit_xml import TestCase, TestSuite

from ci_scan import __version__, wording
from ci_scan.decision import Decision, Policy, TargetDecision
from ci_scan.formats.base import Unique, duration_ms, target_labels, url_host, utc_datetime
from ci_scan.formats.text import component_text, detail_lines, fix_text, headline, one_line, shorten
from ci_scan.models import Finding, FindingKind

DESCRIPTION_LIMIT = 4000
"""Characters of a finding's description kept, unless the report must be cut to stay within its budget."""
MIN_DESCRIPTION = 40
"""A cut shorter than this says nothing: the descriptions are left out instead."""
BYTE_BUDGET = 25_000_000
"""GitLab refuses JUnit files over 30 MB; the rest is headroom for what is written beside the report."""
_PASSED = frozenset({"passing", "expired"})
GATE_FINDINGS_LISTED = 50

_ILLEGAL_XML = re.compile(r"[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_CASE_ATTRIBUTES = frozenset({"name", "classname", "time"})
_FAILURE_TYPES: dict[FindingKind, str] = {"vulnerability": "Vulnerability", "secret": "Secret", "malware": "Malware"}


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 forbids, line ends as `\\n`."""
    if text.isascii() and text.isprintable():  # most names and messages: nothing to drop, no line end
        return text
    return _ILLEGAL_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def xml_line(text: str) -> str:
    """`text` on one line, as an attribute: `xml_text(one_line(text))`."""
    return xml_text(one_line(text))


def seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


class JunitFormat:
    name = "junit"
    description = "JUnit XML test report (GitLab, Jenkins, Azure DevOps); one suite per target, the gate a test case"
    default_filename = "ci-scan.junit.xml"

    def __init__(self, byte_budget: int = BYTE_BUDGET) -> None:
        self.byte_budget = byte_budget

    def render(self, decision: Decision) -> str:
        """The report; over the byte budget, descriptions are cut to what fits (then left out, then the
        suppressed findings' details too), and the report says so. Verdicts and reasons are never cut."""
        text = self._render(decision, DESCRIPTION_LIMIT, details=True)
        size = len(text.encode("utf-8"))
        if size <= self.byte_budget:
            return text
        described = _description_sizes(decision)
        # What the report weighs without descriptions, then the longest cut that fits in the rest.
        room = int(self.byte_budget * 0.95) - (size - sum(described))
        attempts = [(limit, True) for limit in [_longest_cut(described, room)] if limit >= MIN_DESCRIPTION]
        for limit, details in [*attempts, (0, True), (0, False)]:
            text = self._render(decision, limit, details=details)
            if len(text.encode("utf-8")) <= self.byte_budget:
                break
        return text

    shortened: str = ""
    """After `render`: what the report left out to stay within its byte budget; "" when nothing."""

    def _render(self, decision: Decision, limit: int, *, details: bool) -> str:
        root = ET.Element("testsuites")
        labels = target_labels([target.result.target for target in decision.targets])
        note = "" if limit == DESCRIPTION_LIMIT else _shortened(limit, self.byte_budget, details=details)
        self.shortened = note
        for index, (target, label) in enumerate(zip(decision.targets, labels, strict=True)):
            root.append(_suite(index, label, target, decision, limit, note, details=details))
        if not decision.targets:  # the run ended before it had a target: say why, as an error
            root.append(_run_error_suite(decision))
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(index: int, label: str, target: TargetDecision, decision: Decision, limit: int,
           note: str, *, details: bool) -> ET.Element:
    result = target.result
    if result.completed:
        cases = [_gate_case(label, target, decision), *_finding_cases(label, target, limit, details=details)]
        _make_names_unique(cases)
    else:
        cases = [_error_case(label, target, decision)]
    started = utc_datetime(result.started_at_ms)
    suite = TestSuite(
        name=xml_text(label),
        test_cases=cases,
        hostname=xml_text(url_host(decision.run.console_url)),
        id=str(index),
        package=xml_text(result.target.repository),
        timestamp=started.strftime("%Y-%m-%dT%H:%M:%S") if started else None,
        properties=_properties(target, decision) | ({"ci-scan.shortened": note} if note else {}),
    )
    return _conform(suite.build_xml_doc(), target, decision)


def _shortened(limit: int, budget: int, *, details: bool) -> str:
    kept = f"cut to {limit} characters" if limit else "left out"
    dropped = "" if details else ", and so are the details of findings that do not count"
    return (f"descriptions {kept}{dropped} to keep this report under {budget / 1e6:g} MB (GitLab refuses JUnit files "
            "over 30 MB); the JSON and SARIF reports have them whole")


def _description_sizes(decision: Decision) -> list[int]:
    """The bytes each reported description takes at the full limit."""
    return [len(shorten(finding.description.strip(), DESCRIPTION_LIMIT).encode("utf-8"))
            for target in decision.targets if target.result.completed
            for finding in target.result.findings
            if finding.description.strip() and target.disposition(finding) not in _PASSED]


def _longest_cut(sizes: list[int], room: int) -> int:
    """The largest cut c with sum(min(size, c)) <= room (0 when even 1 does not fit)."""
    low, high = 0, max(sizes, default=0)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(size, middle) for size in sizes) <= room:
            low = middle
        else:
            high = middle - 1
    return low


def _run_error_suite(decision: Decision) -> ET.Element:
    case = TestCase(name=_gate_case_name(decision.policy), classname="ci-scan")
    case.add_error_info(message=xml_line(decision.reason), output=xml_text(decision.reason),
                        error_type="ScanTimedOut" if decision.verdict == "timed_out" else "ScanIncomplete")
    suite = TestSuite(name="ci-scan", test_cases=[case], id="0",
                      properties={"ci-scan.version": __version__, "gate.verdict": decision.verdict,
                                  "gate.reason": xml_line(decision.reason)})
    element: ET.Element = suite.build_xml_doc()
    _plain_times(element, "0.000")
    return element


def _plain_times(suite: ET.Element, gate_time: str) -> list[ET.Element]:
    """junit-xml's attributes the schemas refuse dropped; the suite and its gate case timed, the rest 0."""
    suite.attrib.pop("disabled", None)
    suite.set("time", gate_time)
    cases = suite.findall("testcase")
    for index, case in enumerate(cases):
        for attribute in set(case.attrib) - _CASE_ATTRIBUTES:
            del case.attrib[attribute]
        case.set("time", gate_time if index == 0 else "0.000")  # the policy gate case comes first
    return cases


def _gate_case_name(policy: Policy) -> str:
    return f"policy gate: fail on {policy.threshold_label}" if policy.only_threshold else (
        f"policy gate: {policy.describe()}")


def _console_line(target: TargetDecision, decision: Decision) -> list[str]:
    console, scan_id = decision.run.console_url, target.result.scan_id
    if not console:
        return []
    return ["", f"Console: {console} (scan {scan_id})" if scan_id else f"Console: {console}"]


def _gate_case(label: str, target: TargetDecision, decision: Decision) -> TestCase:
    case = TestCase(name=_gate_case_name(target.policy), classname=xml_text(f"ci-scan.{label}"))
    if target.verdict == "failed":
        policy = [wording.policy_line(target.policy), *([f"Scope: {target.policy.scope}"] * bool(target.policy.scope))]
        lines = [target.reason, "", *policy, "", "Failing findings, most severe first:"]
        lines += [f"- {headline(f)}; {fix_text(f)}" for f in target.failing[:GATE_FINDINGS_LISTED]]
        if len(target.failing) > GATE_FINDINGS_LISTED:
            lines.append(f"- ... and {len(target.failing) - GATE_FINDINGS_LISTED} more")
        lines += _console_line(target, decision)
        case.add_failure_info(
            message=xml_line(target.reason),
            output=xml_text("\n".join(lines)),
            failure_type="PolicyGateFailed",
        )
    return case


def _error_case(label: str, target: TargetDecision, decision: Decision) -> TestCase:
    """The one case of a target whose scan could not be completed or timed out: an error, not a failure."""
    result = target.result
    case = TestCase(name=_gate_case_name(target.policy), classname=xml_text(f"ci-scan.{label}"))
    lines = [target.reason]
    if result.status and result.status not in target.reason:
        lines += ["", f"Last status of the scan: {result.status}"]
    lines += _console_line(target, decision)
    case.add_error_info(
        message=xml_line(target.reason),
        output=xml_text("\n".join(lines)),
        error_type="ScanTimedOut" if target.verdict == "timed_out" else "ScanIncomplete",
    )
    return case


def _finding_cases(label: str, target: TargetDecision, limit: int, *, details: bool = True) -> list[TestCase]:
    cases = []
    classnames: dict[str, str] = {}  # by package: a big image has thousands of findings in far fewer packages
    for finding in target.result.in_report_order:
        disposition = target.disposition(finding)
        package, version, place = finding.package_name, finding.package_version, finding.place
        group = package or finding.kind
        classname = classnames.get(group)
        if classname is None:
            classname = classnames[group] = xml_line(f"{label} / {group}")
        at_version = f"@{version}" if version else ""
        name = f"{finding.rule_id} {package or component_text(finding)}{at_version}"
        case = TestCase(name=xml_line(f"{name} ({place})" if place else name), classname=classname)
        if disposition in _PASSED:  # counted, and no criterion that tripped counted it
            cases.append(case)
            continue
        reason = target.reason_for(finding)
        body = [reason, *detail_lines(finding)] if details or disposition == "failing" else [reason]
        if finding.description.strip() and limit > 0:
            body += ["", shorten(finding.description.strip(), limit)]
        text = xml_text("\n".join(body))
        if disposition == "failing":
            case.add_failure_info(
                message=xml_line(headline(finding)), output=text, failure_type=_failure_type(finding)
            )
        else:
            case.add_skipped_info(message=xml_line(reason), output=text)
        cases.append(case)
    return cases


def _failure_type(finding: Finding) -> str:
    return _FAILURE_TYPES[finding.kind]


def _make_names_unique(cases: list[TestCase]) -> None:
    """Append " #2", " #3"... to a name already taken, keyed as GitLab keys cases: `classname_name`."""
    keys = [f"{case.classname}_{case.name}" for case in cases]
    if len(set(keys)) == len(keys):  # nearly always: no key repeats, so `Unique` would keep every name
        return
    taken = Unique()
    for case, key in zip(cases, keys, strict=True):
        prefix = f"{case.classname}_"
        case.name = taken.take(key, _numbered(key)).removeprefix(prefix)


def _numbered(key: str) -> Callable[[int], str]:
    return lambda number: f"{key} #{number}"


def _properties(target: TargetDecision, decision: Decision) -> dict[str, str]:
    result = target.result
    values = {
        "ci-scan.version": __version__,
        "scan.id": result.scan_id,
        "scan.status": result.status,
        "scan.console_url": decision.run.console_url,
        "target.node_id": result.target.node_id,
        "target.node_type": result.target.node_type,
        "target.digest": result.target.digest or "",
        "gate.fail_on": target.policy.threshold_label,
        "gate.policy": wording.policy_line(target.policy).removeprefix("Policy: "),
        "gate.scope": target.policy.scope,
        "gate.verdict": target.verdict,
        "gate.reason": target.reason,
    }
    return {key: xml_line(value) for key, value in values.items() if value}


def _summary(target: TargetDecision, decision: Decision) -> str:
    result = target.result
    scan = f"scan {result.scan_id}" if result.scan_id else "no scan"
    lines = [f"ci-scan {__version__}: {scan} of {result.target.name}"]
    if decision.run.console_url:
        lines.append(f"Console: {decision.run.console_url}")
    if result.target.digest:
        lines.append(f"Digest: {result.target.digest}")
    if result.completed:
        counts = ", ".join(f"{n} {severity.label}" for severity, n in result.counts().items())
        lines.append(f"Unmasked findings: {counts}; {len(result.masked)} masked")
    lines += result.notes
    lines.append(wording.gate_line(target.verdict, target.policy.describe(), target.reason))
    return "\n".join(lines)


def _conform(suite: ET.Element, target: TargetDecision, decision: Decision) -> ET.Element:
    """Make junit-xml's tree valid for junit-10.xsd and the Ant schema: attributes, times, order."""
    cases = _plain_times(suite, seconds(duration_ms(target.result)))
    for skipped in suite.iter("skipped"):  # only test cases hold any: one walk, not one per case
        skipped.attrib.pop("type", None)
    properties = suite.find("properties")
    if properties is None:
        properties = ET.Element("properties")
    system_out = ET.Element("system-out")
    system_out.text = xml_text(_summary(target, decision))
    system_err = ET.Element("system-err")
    system_err.text = xml_text("\n".join((*target.result.warnings, *decision.run.warnings, *decision.warnings)))
    suite[:] = [properties, *cases, system_out, system_err]
    return suite
