"""Every word ci-scan says about a verdict: why a target passed or failed, why a finding counts or not.

Renderers and the summary take their sentences from here and never re-derive them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ci_scan.models import Finding, Severity, TargetResult

if TYPE_CHECKING:
    from ci_scan.decision import Disposition, Verdict
    from ci_scan.ignores import IgnoreEntry
    from ci_scan.policy import Policy, RuleOutcome
    from ci_scan.vex import VexStatement

IDS_NAMED = 3
"""Finding ids a rule's sentence names before it says how many more."""

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


def gate_line(verdict: Verdict, criteria: str, reason: str) -> str:
    """`Gate FAILED (--fail-on high): <reason>`: the verdict line of a run or of one target."""
    return f"Gate {verdict_word(verdict).upper()} ({criteria}): {reason}"


def exit_description(verdict: Verdict, *, passed_over: bool = False, stopped_by: str = "") -> str:
    """What the exit code says, e.g. `gate failed`, `gate timed out`."""
    if stopped_by:
        return f"stopped by {stopped_by}"
    if passed_over:
        return f"gate {verdict_word(verdict)}, passed over by --on-error pass"
    return f"gate {verdict_word(verdict)}"


def passed_over(verdict: Verdict) -> str:
    """The warning on a run that exits 0 without a verdict (`--on-error pass`)."""
    why = "timed out" if verdict == "timed_out" else "could not be completed because of the console"
    return (f"NO VERDICT: the scan {why}, and --on-error pass lets the build through (exit 0) "
            "without knowing whether the images meet the policy")


def gate_reason(threshold: str, failing: Sequence[Finding], *, masked: int) -> str:
    """Why a completed target passed or failed when the severity threshold is the only criterion."""
    masked_note = f"; {masked} masked finding(s) not counted" if masked else ""
    if failing:
        return f"{len(failing)} finding(s) at or above {threshold}: {_by_severity(failing)}{masked_note}"
    return f"no finding at or above {threshold}{masked_note}"


def _by_severity(findings: Sequence[Finding]) -> str:
    """`2 critical, 1 high`: most severe first."""
    counts: dict[Severity, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return ", ".join(f"{n} {s.label}" for s, n in sorted(counts.items(), reverse=True))

def incomplete_reason(result: TargetResult) -> str:
    return f"the scan could not be completed: {result.error}"


def timed_out_reason(result: TargetResult) -> str:
    if result.timed_out_kinds:
        return f"the {' and '.join(result.timed_out_kinds)} scan was still running when --timeout ran out"
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


def finding_reason(disposition: Disposition, finding: Finding, policy: Policy,
                   counted_by: Sequence[RuleOutcome] = ()) -> str:
    """Why the finding fails the gate (naming each criterion that counted it), or why it does not."""
    if disposition == "masked":
        return MASKED_REASON
    if disposition == "unfixed":
        return "not gated: no fixed version is known (--ignore-unfixed)"
    if disposition == "failing":
        return "fails the gate: " + "; ".join(_counted_by(rule, finding) for rule in counted_by)
    narrowed = policy.narrowed_out(finding)
    if narrowed:
        why = "not reachable over the network" if narrowed == "--only-network" else "no live connection"
        return f"not counted: {why} ({narrowed})"
    if not policy.has_criteria:
        return "not gated: --fail-on none (report only)"
    if policy.only_threshold:
        return f"below the --fail-on threshold {policy.threshold_label}"
    return "counted by no criterion that tripped"


def _counted_by(rule: RuleOutcome, finding: Finding) -> str:
    if rule.rule == "fail-on":
        return f"{finding.severity.label} is at or above --fail-on {rule.limit}"
    if rule.rule.startswith("max-"):
        return f"one of {rule.measured:g} {_findings_of(rule)}, more than --{rule.rule} {rule.limit}"
    if rule.rule.endswith("-count"):
        return f"one of {rule.measured:g} {_findings_of(rule)}, at least --{rule.rule} {rule.limit}"
    if rule.rule == "fail-on-score":
        return f"adds to the cumulative score {rule.measured:g}, at least --fail-on-score {rule.limit}"
    return f"{_RISKS[rule.rule].format(limit=rule.limit)} (--{rule.rule})"


_RISKS = {
    "fail-on-kev": "in CISA KEV",
    "fail-on-exploit": "with a known exploit",
    "fail-on-epss": "with EPSS >= {limit}",
}


def _findings_of(rule: RuleOutcome) -> str:
    """`critical findings` for max-critical and fail-on-critical-count; `findings` for the total ones."""
    key = rule.rule.removeprefix("max-").removeprefix("fail-on-").removesuffix("-count").removesuffix("count")
    if key == "secrets":
        return "secrets"
    return "findings" if key in ("total", "") else f"{key} findings"


def rule_sentence(rule: RuleOutcome) -> str:
    """What a tripped criterion measured: `3 critical findings > limit 1 (--max-critical): CVE-1, CVE-2`."""
    ids = [f.rule_id for f in rule.findings[:IDS_NAMED]]
    named = ", ".join(ids) + (f" and {len(rule.findings) - IDS_NAMED} more" if len(rule.findings) > IDS_NAMED else "")
    if rule.rule == "fail-on":
        return f"{len(rule.findings)} finding(s) at or above {rule.limit}: {_by_severity(rule.findings)}"
    noun = _findings_of(rule).replace("findings", "finding(s)")
    if rule.rule.startswith("max-"):
        return f"{rule.measured:g} {noun} > limit {rule.limit} (--{rule.rule}): {named}"
    if rule.rule.endswith("-count"):
        return f"{rule.measured:g} {noun} >= {rule.limit} (--{rule.rule}): {named}"
    if rule.rule == "fail-on-score":
        return f"cumulative score {rule.measured:g} >= {rule.limit} (--fail-on-score)"
    verb = _RISKS[rule.rule].format(limit=rule.limit)
    return f"{named} {'is' if len(rule.findings) == 1 else 'are'} {verb} (--{rule.rule})"


def target_reason(policy: Policy, rules: Sequence[RuleOutcome], failing: Sequence[Finding], *, counted: int,
                  masked: int, uncounted: int, suppressed: Mapping[str, int] | None = None,
                  baseline: str = "") -> str:
    """Why a completed target passed or failed: every tripped criterion, or each one's measure."""
    held = suppressed or {}
    others = "".join(f"; {held[key]} finding(s) {_NOT_COUNTED[key].format(baseline=baseline)}"
                     for key in ("vex", "ignored", "existing") if held.get(key))
    others += f"; {uncounted} finding(s) not counted (narrowed or unfixed)" if uncounted else ""
    notes = (f"; {masked} masked finding(s) not counted" if masked else "") + others
    if not rules:
        return f"report only (--fail-on none): {counted} finding(s) not gated{notes}"
    if policy.only_threshold:
        return gate_reason(policy.threshold_label, failing, masked=masked) + others
    tripped = [rule_sentence(rule) for rule in rules if rule.tripped]
    if tripped:
        return "; ".join(tripped) + notes
    measures = ", ".join(f"--{r.rule} {r.limit}: {r.measured:g}" for r in rules)
    return f"no criterion tripped ({measures}){notes}"


def vex_reason(statement: VexStatement) -> str:
    return f"suppressed by VEX: {statement.describe()}"


def vex_kept_note(statement: VexStatement) -> str:
    action = f": {statement.action_statement}" if statement.action_statement else ""
    return f"VEX says {statement.status} ({statement.where}){action}"


def vex_line(statement: VexStatement) -> str:
    """The summary's line for a statement that decided findings."""
    effect = "suppressed" if statement.suppresses else "still counted"
    return f"VEX: {statement.describe()}: {effect}"


def existing_reason(source: str) -> str:
    return f"existing: already in the baseline ({source}), so not new"


def no_baseline(source: str, names: Sequence[str]) -> str:
    shown = ", ".join(names[:IDS_NAMED]) + (f" and {len(names) - IDS_NAMED} more" if len(names) > IDS_NAMED else "")
    return f"the baseline ({source}) has no scan of {shown}: every finding there is new"


def baseline_is_itself(name: str, scan_id: str) -> str:
    return (f"{name} was gated on scan {scan_id}, the baseline itself: compared with itself nothing would be "
            "new, so it was gated without the baseline")


def ignored_reason(entry: IgnoreEntry) -> str:
    until = f", until {entry.expires.isoformat()}" if entry.expires else ""
    return f"ignored: {entry.reason} ({entry.where}{until})"


def expired_note(entry: IgnoreEntry) -> str:
    day = entry.expires.isoformat() if entry.expires else "?"
    return f"its ignore entry ({entry.where}) expired on {day}"


def expired_entry(entry: IgnoreEntry, *, matched: bool) -> str:
    day = entry.expires.isoformat() if entry.expires else "?"
    tail = "; the findings it matched count again" if matched else ""
    return f"ignore entry {entry.describe()} expired on {day}{tail}: renew it with a reason, or fix the finding"


def expiring_entry(entry: IgnoreEntry, days: int) -> str:
    return f"ignore entry {entry.describe()} expires in {days} day(s)"


def stale_entry(entry: IgnoreEntry) -> str:
    return f"ignore entry {entry.describe()} matched no finding: remove it if the finding is gone"


def ignore_hint(finding: Finding, repository: str, expired: IgnoreEntry | None = None,
                file: str = ".ci-scan-ignore.yml") -> list[str]:
    """How to accept `finding`: the entry to add to `file` (or the expired one to renew), for the summary."""
    if expired is not None:
        return [f"{finding.rule_id} was accepted until {expired.expires}: to accept it again, give the entry at "
                f"{expired.where} a new reason and expiry, or fix the finding"]
    return [
        f"To accept a finding, add an entry with a reason and an expiry to {file}, e.g.:",
        "  ignore:",
        f"    - id: {finding.rule_id}",
        f"      package: {finding.package_name}",
        f"      image: {repository}",
        "      reason: <why this is acceptable>",
        "      expires: <YYYY-MM-DD>",
    ]


def _with_sources(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{text} ({source})" for text, source in pairs)


def by_scope(top_level: str) -> str:
    """The run's criteria when policy-file scopes gave targets their own."""
    return f"{top_level}, or a target's scope"


def policy_line(policy: Policy) -> str:
    """`Policy: --fail-on high (--fail-on), --max-critical 0 (.ci-scan.yml line 3); narrowed by ...`."""
    criteria = _with_sources(policy.criteria_sources()) or "--fail-on none: report only"
    narrowing = policy.narrowing_sources()
    return f"Policy: {criteria}" + (f"; narrowed by {_with_sources(narrowing)}" if narrowing else "")


def scope_line(policy: Policy) -> str:
    """A scoped target's criteria: `.ci-scan.yml line 9 (images prod/*): --max-high 0 (...)`."""
    return f"{policy.scope}: {policy_line(policy).removeprefix('Policy: ')}"


_NOT_COUNTED = {
    "masked": "masked",
    "vex": "not affected per VEX",
    "ignored": "accepted by the ignore file",
    "existing": "already in the baseline ({baseline})",
    "unfixed": "unfixed (--ignore-unfixed)",
}


def suppressed_line(counts: Mapping[str, int], baseline: str) -> str:
    """`Not counted: 1 masked, 2 not affected per VEX, ...`: what kept findings from counting."""
    parts = [f"{counts[key]} {text.format(baseline=baseline)}" for key, text in _NOT_COUNTED.items() if counts.get(key)]
    return "Not counted: " + ", ".join(parts)


NOTHING_FAILS = "No finding fails the gate."
"""Said where the failing findings would be listed, when there are none."""


def fixable_line(fixable: int, failing: int) -> str:
    """`2 of 3 finding(s) that fail the gate can be fixed: a fixed version is known`."""
    return f"{fixable} of {failing} finding(s) that fail the gate can be fixed: a fixed version is known"


def disposition_count(disposition: Disposition, n: int, baseline: str = "") -> str:
    """`2 not affected per VEX`: one part of `suppressed_line`; for `expired`, counted findings that pass
    although their ignore entry expired."""
    if disposition == "expired":
        return f"{n} finding(s) whose ignore entry expired: counted again, not failing the gate"
    return f"{n} {_NOT_COUNTED[disposition].format(baseline=baseline)}"
