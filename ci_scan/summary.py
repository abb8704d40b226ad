"""The plain-text summary printed at the end of a run (CI logs are not terminals: no colour, no width).

    ci-scan: 3 target(s) on https://console.example.com
      registry.example.com/team/app:1.4.2: scan <id>: 2 critical, 1 high, 1 low, 1 masked: failed
      registry.example.com/team/app:1.5.0: scan <id>: no findings: passed
      registry.example.com/team/worker:3.1: scan <id>: could not be completed
    Findings that fail the gate (first 10 of 12):
      CRITICAL CVE-2024-0001        openssl:3.0.2  (fixed in 3.0.14)  [registry.example.com/team/app:1.4.2]
    Gate FAILED (--fail-on high): <the run's reason>
    Policy: --fail-on high (--fail-on), --max-critical 0 (.ci-scan.yml line 3)
      registry.example.com/prod/api:2.0: .ci-scan.yml line 9 (images prod/*): --max-high 0 (...)
    Not counted: 1 masked, 2 not affected per VEX, 3 existing in the baseline (scan <id>)
    VEX: CVE-2024-0002 not_affected (vulnerable_code_not_in_execute_path) by vex.json statement 1
    Incomplete: registry.example.com/team/worker:3.1: <its reason>
    Warning: ...

A target's line counts its unmasked findings per severity (severities without any left out) and its
masked ones. Failing findings are listed over every target, most severe first; when none fails, the
most severe unmasked findings of completed targets are. The image in brackets is shown only when the
run has more than one target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ci_scan import wording
from ci_scan.decision import Decision, TargetDecision
from ci_scan.formats.base import report_key, target_labels
from ci_scan.formats.text import REMEDY
from ci_scan.models import Finding
from ci_scan.sanitize import for_log, neutral_line_start

TOP_FINDINGS = 10


_COLOURS = {
    "Gate PASSED": "32;1", "Gate FAILED": "31;1", "Gate INCOMPLETE": "33;1", "Gate TIMED OUT": "33;1",
    "  CRITICAL": "31;1", "  HIGH": "31", "  MEDIUM": "33", "  LOW": "34", "Warning:": "33",
    "Incomplete:": "33", "Timed out:": "33",
}
"""ANSI colours by how a line starts; only ever added to lines already neutralised."""


def use_colour(stream: object, environ: Mapping[str, str]) -> bool:
    """Colour only for a person at a terminal: never in a CI log, a file or a pipe, nor with NO_COLOR set;
    FORCE_COLOR (set, and not 0) asks for it anywhere, for CI logs that show colour."""
    if "NO_COLOR" in environ:
        return False
    if environ.get("FORCE_COLOR", "").strip() not in ("", "0"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and environ.get("TERM") != "dumb"


def _coloured(line: str) -> str:
    start = next((s for s in _COLOURS if line.startswith(s)), None)
    if start is None:
        return line
    return f"\x1b[{_COLOURS[start]}m{start}\x1b[0m{line[len(start):]}"


def render_summary(decision: Decision, top: int = TOP_FINDINGS, *, colour: bool = False,
                   shortened: Sequence[tuple[str, str]] = ()) -> str:
    """The terminal summary; `shortened` holds (report path, what it left out) for reports that had to
    leave something out to fit their consumer's limits."""
    labels = target_labels([target.result.target for target in decision.targets])
    labelled = list(zip(labels, decision.targets, strict=True))
    several = len(labelled) > 1
    console = decision.run.console_url or "the console"
    lines = [f"ci-scan: {len(labelled)} target(s) on {console}"]
    lines += [f"  {label}: {_target_line(target)}" for label, target in labelled]
    title = "Findings that fail the gate"
    shown = [(label, f) for label, t in labelled for f in t.failing]
    if not shown:
        title = "Most severe findings"
        shown = [(label, f) for label, t in labelled if t.result.completed for f in t.result.active]
    shown.sort(key=lambda pair: report_key(pair[1]))  # stable: ties keep the run's order of targets
    if shown:
        more = len(shown) - top
        lines.append(f"{title}{f' (first {top} of {len(shown)})' if more > 0 else ''}:")
        lines += [_finding_line(f, label if several else "") for label, f in shown[:top]]
    lines.append(wording.gate_line(decision.verdict, decision.criteria_label(), decision.reason))
    lines.append(wording.policy_line(decision.gate_policy))
    scoped = [(label, t.policy) for label, t in labelled if t.policy.scope]
    lines += [f"  {label}: {wording.scope_line(policy)}" for label, policy in scoped]
    suppressed = _suppressed(decision)
    if several and any(suppressed.values()):  # one target's reason says so already
        lines.append(wording.suppressed_line(suppressed, decision.baseline.source if decision.baseline else ""))
    lines += [wording.vex_line(statement) for statement in decision.vex_applied]
    for label, target in labelled:
        if not target.result.completed:
            heading = "Timed out" if target.verdict == "timed_out" else "Incomplete"
            lines.append(f"{heading}: {label}: {target.reason}")
    for label, target in labelled:
        lines += [f"Note: {label}: {n}" if several else f"Note: {n}" for n in target.result.notes]
        lines += [f"Warning: {label}: {w}" if several else f"Warning: {w}" for w in target.result.warnings]
    lines += [f"Warning: {w}" for w in (*decision.run.warnings, *decision.warnings)]
    lines += [f"Warning: report {path} is shortened: {what}" for path, what in shortened]
    if decision.failing:  # last: how to accept the most severe failing finding
        target, finding = decision.failing[0]
        files = [entry.where.rpartition(" line ")[0] for entry in decision.policy.ignores]
        lines += wording.ignore_hint(finding, target.result.target.repository, target.expired.get(finding),
                                     *files[:1])  # the file the team already keeps its entries in
    # Every line carries console text (ids, packages, messages): neutralised before it reaches a CI log.
    clean = [neutral_line_start(for_log(line)) for line in lines]
    return "\n".join(_coloured(line) if colour else line for line in clean) + "\n"


def _suppressed(decision: Decision) -> dict[str, int]:
    totals: dict[str, int] = {}
    for target in decision.targets:
        for disposition, n in target.suppressed().items():
            totals[disposition] = totals.get(disposition, 0) + n
    return totals


def _target_line(target: TargetDecision) -> str:
    result = target.result
    scan = f"scan {result.scan_id}" if result.scan_id else "no scan"
    verdict = wording.verdict_title(target.verdict)
    if not result.completed:
        return f"{scan}: {verdict}"
    counts = [f"{n} {severity.label}" for severity, n in result.counts().items() if n]
    if result.masked:
        counts.append(f"{len(result.masked)} masked")
    return f"{scan}: {', '.join(counts) or 'no findings'}: {verdict}"


def _finding_line(finding: Finding, label: str) -> str:
    fixed = REMEDY.get(finding.kind) or (f"fixed in {finding.fixed_in}" if finding.fixed_in else "no fix yet")
    where = f" {finding.place}" if finding.place else ""
    image = f"  [{label}]" if label else ""
    return f"  {finding.severity.name:<8} {finding.rule_id:<20} {finding.component}{where}  ({fixed}){image}"
