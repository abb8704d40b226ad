"""Every word ci-scan says about a verdict: why a target passed or failed, why a finding counts or not.

Renderers and the summary take their sentences from here and never re-derive them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ci_scan.models import Finding, Severity, TargetResult

if TYPE_CHECKING:
    from ci_scan.decision import Disposition, Policy, Verdict

MASKED_REASON = "masked in the console"
VERDICT_TITLES: dict[Verdict, str] = {
    "passed": "passed",
    "failed": "failed",
    "incomplete": "could not be completed",
    "timed_out": "timed out",
}


VERDICT_WORDS: dict[Verdict, str] = {
    "passed": "passed",
    "failed": "failed",
    "incomplete": "incomplete",
    "timed_out": "timed out",
}
"""The verdict in a word or two, for status lines and labels."""


def verdict_title(verdict: Verdict) -> str:
    return VERDICT_TITLES[verdict]


def verdict_word(verdict: Verdict) -> str:
    return VERDICT_WORDS[verdict]


def gate_line(verdict: Verdict, threshold: str, reason: str) -> str:
    """`Gate FAILED (--fail-on high): <reason>`: the verdict line of a run or of one target."""
    return f"Gate {verdict_word(verdict).upper()} (--fail-on {threshold}): {reason}"


def exit_description(verdict: Verdict) -> str:
    """What the exit code says, e.g. `gate failed`, `gate timed out`."""
    return f"gate {verdict_word(verdict)}"


def gate_reason(threshold: str, failing: Sequence[Finding], *, active: int, masked: int, report_only: bool) -> str:
    """Why a completed target passed or failed the severity threshold."""
    masked_note = f"; {masked} masked finding(s) not counted" if masked else ""
    if report_only:
        return f"report only (--fail-on none): {active} finding(s) not gated{masked_note}"
    if failing:
        by_severity: dict[Severity, int] = {}
        for finding in failing:
            by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
        parts = ", ".join(f"{n} {s.label}" for s, n in sorted(by_severity.items(), reverse=True))
        return f"{len(failing)} finding(s) at or above {threshold}: {parts}{masked_note}"
    return f"no finding at or above {threshold}{masked_note}"


def incomplete_reason(result: TargetResult) -> str:
    return f"the scan could not be completed: {result.error}"


def timed_out_reason(result: TargetResult) -> str:
    status = f" (last status {result.status})" if result.status else ""
    scan = f"scan {result.scan_id}" if result.scan_id else "the scan"
    return f"{scan} was still running when --timeout ran out{status}"


def problem_line(name: str, verdict: Verdict, reason: str, timeout: float) -> str:
    """The one error line for a target that could not be gated."""
    if verdict == "timed_out":
        return f"{name}: timed out after {timeout:g}s: {reason} (raise --timeout, or check the console's scanners)"
    return f"{name}: {reason}"


def run_reason(verdict: Verdict, targets: Sequence[tuple[Verdict, str]]) -> str:
    """The run's reason: a single target's own, or how many targets ended which way."""
    if len(targets) == 1:
        return targets[0][1]
    if not targets:
        return "nothing was scanned"
    tally = {v: sum(1 for t, _ in targets if t == v) for v in VERDICT_TITLES}
    parts = ", ".join(f"{n} {verdict_title(v)}" for v, n in tally.items() if n)
    return f"{len(targets)} targets: {parts}"


def finding_reason(disposition: Disposition, finding: Finding, policy: Policy) -> str:
    """Why the finding fails the gate, or why it does not."""
    if disposition == "masked":
        return MASKED_REASON
    if disposition == "failing":
        return f"fails the gate: {finding.severity.label} is at or above --fail-on {policy.threshold_label}"
    if policy.fail_on is None:
        return "not gated: --fail-on none (report only)"
    return f"below the --fail-on threshold {policy.threshold_label}"
