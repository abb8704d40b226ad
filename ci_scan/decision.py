"""The decision: a pure function from a run's results and the policy to one object every output renders.

It holds each finding's disposition, each rule's measured value against its limit, each target's
verdict, the run's verdict and the exit code. The words for all of it live in `wording`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

from ci_scan import wording
from ci_scan.baseline import Baseline
from ci_scan.errors import ExitCode
from ci_scan.ignores import EXPIRY_WARNING_DAYS, IgnoreEntry
from ci_scan.models import Finding, RunResult, Severity, TargetResult, severity_counts
from ci_scan.policy import Policy, RuleOutcome, measure
from ci_scan.vex import VexStatement, applicable

__all__ = ["Decision", "Disposition", "OnError", "Policy", "RuleOutcome", "TargetDecision", "Verdict", "decide"]

Disposition = Literal["failing", "passing", "masked", "vex", "ignored", "existing", "unfixed", "expired"]
"""A finding's part in the gate. Suppressed, it never fails the gate: masked in the console, not
affected (or fixed) by a VEX statement, accepted by the ignore file, existing in the baseline, or with
no fix under --ignore-unfixed; when several apply, the first in that order wins. Counted, it fails the
gate when a criterion that tripped counted it, else it passes; `expired` is a counted finding that does
not fail the gate and whose ignore entry has expired (an expired entry suppresses nothing)."""
SUPPRESSED: tuple[Disposition, ...] = ("masked", "vex", "ignored", "existing", "unfixed")
Verdict = Literal["passed", "failed", "incomplete", "timed_out"]
OnError = Literal["fail", "pass"]


@dataclass(frozen=True)
class TargetDecision:
    result: TargetResult
    verdict: Verdict
    reason: str
    rules: tuple[RuleOutcome, ...] = ()
    failing: tuple[Finding, ...] = ()
    """Findings that fail the gate, most severe first."""
    _failing_set: frozenset[Finding] = field(default=frozenset(), repr=False, compare=False)
    _unfixed_set: frozenset[Finding] = field(default=frozenset(), repr=False, compare=False)
    policy: Policy = field(default_factory=Policy, repr=False, compare=False)
    ignored: Mapping[Finding, IgnoreEntry] = field(default_factory=dict, repr=False, compare=False)
    """The findings the ignore file accepts, with the entry that does."""
    expired: Mapping[Finding, IgnoreEntry] = field(default_factory=dict, repr=False, compare=False)
    """Findings whose only matching entries have expired: they count again."""
    vexed: Mapping[Finding, VexStatement] = field(default_factory=dict, repr=False, compare=False)
    """The findings a VEX statement says are not affected (or fixed), with the statement."""
    vex_kept: Mapping[Finding, VexStatement] = field(default_factory=dict, repr=False, compare=False)
    """Findings a VEX statement says are affected or under investigation: they count, and say so."""
    existing: frozenset[Finding] = field(default=frozenset(), repr=False, compare=False)
    """The findings the baseline already had."""
    baseline: Baseline | None = field(default=None, repr=False, compare=False)
    entries_used: frozenset[IgnoreEntry] = field(default=frozenset(), repr=False, compare=False)
    """Every ignore entry that matched a finding here, also where VEX decided first or it expired."""

    @cached_property
    def _dispositions(self) -> dict[int, tuple[Finding, Disposition]]:
        """Each of the result's findings with its disposition, by object: every report asks about each
        of them, and hashing a finding again for every question was most of a big report's time."""
        return {id(finding): (finding, self._disposition(finding)) for finding in self.result.findings}

    def disposition(self, finding: Finding) -> Disposition:
        known = self._dispositions.get(id(finding))
        return known[1] if known is not None and known[0] is finding else self._disposition(finding)

    def _disposition(self, finding: Finding) -> Disposition:
        if finding.masked:
            return "masked"
        if finding in self.vexed:
            return "vex"
        if finding in self.ignored:
            return "ignored"
        if finding in self.existing:
            return "existing"
        if finding in self._unfixed_set:
            return "unfixed"
        if finding in self._failing_set:
            return "failing"
        return "expired" if finding in self.expired else "passing"

    @cached_property
    def _reasons(self) -> dict[int, tuple[Finding, str]]:
        """Each finding's reason once worked out, by object: every report asks for it again."""
        return {}

    def reason_for(self, finding: Finding) -> str:
        """Why the finding fails the gate, or why it does not."""
        known = self._reasons.get(id(finding))
        if known is not None and known[0] is finding:
            return known[1]
        reason = self._reason(finding)
        self._reasons[id(finding)] = (finding, reason)
        return reason

    def _reason(self, finding: Finding) -> str:
        disposition = self.disposition(finding)
        if disposition == "vex":
            return wording.vex_reason(self.vexed[finding])
        if disposition == "ignored":
            return wording.ignored_reason(self.ignored[finding])
        if disposition == "existing":
            return wording.existing_reason(self.baseline.source if self.baseline else "the baseline")
        counted_by = [r for r in self.rules if r.tripped and finding in r.counted] if disposition == "failing" else []
        reason = wording.finding_reason(disposition, finding, self.policy, counted_by)
        entry = self.expired.get(finding)
        if entry and disposition != "unfixed":
            reason = f"{reason}; {wording.expired_note(entry)}"
        statement = self.vex_kept.get(finding)
        return f"{reason}; {wording.vex_kept_note(statement)}" if statement else reason

    def suppressed(self) -> dict[Disposition, int]:
        """How many findings each suppressing disposition kept from counting."""
        counts = dict.fromkeys(SUPPRESSED, 0)
        for finding in self.result.findings:
            disposition = self.disposition(finding)
            if disposition in counts:
                counts[disposition] += 1
        return counts

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self.verdict]


@dataclass(frozen=True)
class Decision:
    policy: Policy
    run: RunResult
    targets: tuple[TargetDecision, ...]
    verdict: Verdict
    reason: str
    warnings: tuple[str, ...] = ()
    """What the policy itself should tell its owners: expired, expiring and stale ignore entries, targets
    the baseline says nothing about."""
    baseline: Baseline | None = None
    vex_applied: tuple[VexStatement, ...] = ()
    """The VEX statements that decided at least one finding (suppressing it or not), in load order."""
    on_error: OnError = "fail"
    """`--on-error`: what a run without a verdict because of the console (an outage or a time-out) exits with."""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def shared_policy(self) -> Policy | None:
        """The policy that gated every target, or None when policy-file scopes gave targets different ones."""
        policies = {id(t.policy): t.policy for t in self.targets} or {id(self.policy): self.policy}
        return next(iter(policies.values())) if len(policies) == 1 else None

    @property
    def gate_policy(self) -> Policy:
        """The run's policy for the reports: the one every target shared, else the top level's."""
        return self.shared_policy or self.policy

    def criteria_label(self) -> str:
        """The criteria in the run's verdict line: the shared policy's, or that they differ by target."""
        shared = self.shared_policy
        return shared.describe() if shared else wording.by_scope(self.policy.describe())

    @property
    def passed_over(self) -> bool:
        """No verdict was reached, only because the console failed or took too long, and `--on-error pass`
        lets such a run through. A failed target, bad data or a signal never is."""
        if self.on_error != "pass" or self.verdict not in ("incomplete", "timed_out") or self.run.stopped_by:
            return False
        if not self.targets:
            return self.run.outage
        return all(t.verdict == "passed" or t.result.outage for t in self.targets)

    @property
    def exit_code(self) -> ExitCode:
        if self.run.stopped_by:  # a cancelled job outweighs every verdict
            return ExitCode.INTERRUPTED if self.run.stopped_by == "SIGINT" else ExitCode.TERMINATED
        if self.run.usage_error:
            return ExitCode.USAGE
        return ExitCode.PASSED if self.passed_over else _EXIT_CODES[self.verdict]

    @property
    def exit_description(self) -> str:
        return wording.exit_description(self.verdict, passed_over=self.passed_over, stopped_by=self.run.stopped_by)

    @property
    def failing(self) -> tuple[tuple[TargetDecision, Finding], ...]:
        """Every gate-failing finding with its target, most severe first."""
        pairs = [(t, f) for t in self.targets for f in t.failing]
        return tuple(sorted(pairs, key=lambda pair: pair[1].sort_key))

    def counts(self) -> Mapping[Severity, int]:
        """Unmasked findings per severity over every target."""
        return severity_counts(f for target in self.targets for f in target.result.findings)


_EXIT_CODES: Mapping[Verdict, ExitCode] = {
    "passed": ExitCode.PASSED,
    "failed": ExitCode.GATE_FAILED,
    "incomplete": ExitCode.SCAN_INCOMPLETE,
    "timed_out": ExitCode.TIMED_OUT,
}
_PRECEDENCE: tuple[Verdict, ...] = ("failed", "incomplete", "timed_out")
"""The run's verdict: findings are certain, so a failed target wins; then trouble, then time."""


def decide(run: RunResult, policy: Policy, today: dt.date | None = None, baseline: Baseline | None = None,
           on_error: OnError = "fail") -> Decision:
    """`today` (the clock) decides which ignore entries have expired; without it none has. Findings in
    `baseline` are existing ones, never failing. `on_error` is what a run the console kept from a verdict
    exits with."""
    itself = [r for r in run.targets if baseline is not None and r.scan_id and r.scan_id in baseline.scan_ids]
    targets = tuple(_decide_target(result, policy.for_target(result.target), today,
                                   None if result in itself else baseline)
                    for result in run.targets)
    used = {id(s) for t in targets for s in (*t.vexed.values(), *t.vex_kept.values())}
    uncovered = [t.result.target.name for t in targets
                 if t.baseline is not None and t.result.completed and not t.baseline.covers(t.result.target)]
    verdicts = {t.verdict for t in targets}
    # An empty run proves nothing: it never reads as passed.
    verdict: Verdict = (next((v for v in _PRECEDENCE if v in verdicts), "passed") if targets
                        else "timed_out" if run.timed_out else "incomplete")
    decision = Decision(
        policy=policy,
        run=run,
        targets=targets,
        verdict=verdict,
        reason=run.error or wording.run_reason(verdict, [(t.verdict, t.reason) for t in targets]),
        warnings=(*_ignore_warnings(policy, targets, today),
                  *([wording.no_baseline(baseline.source, uncovered)] if baseline and uncovered else []),
                  *(wording.baseline_is_itself(r.target.name, r.scan_id) for r in itself)),
        baseline=baseline,
        vex_applied=tuple(s for s in policy.vex if id(s) in used),
        on_error=on_error,
    )
    if decision.passed_over:  # said first, in every report: this exit 0 is no verdict
        return replace(decision, warnings=(wording.passed_over(verdict), *decision.warnings))
    return decision


def _ignore_warnings(policy: Policy, targets: tuple[TargetDecision, ...], today: dt.date | None) -> tuple[str, ...]:
    used = {entry for t in targets for entry in t.entries_used}
    judged = any(t.result.completed for t in targets)  # with no findings at all, no entry is stale
    notes = []
    for entry in policy.ignores:
        if today is not None and entry.expired(today):
            notes.append(wording.expired_entry(entry, matched=entry in used))
        elif entry not in used and judged:
            notes.append(wording.stale_entry(entry))
        elif today is not None and entry.expires is not None and (entry.expires - today).days <= EXPIRY_WARNING_DAYS:
            notes.append(wording.expiring_entry(entry, (entry.expires - today).days))
    return tuple(notes)


def _decide_target(result: TargetResult, policy: Policy, today: dt.date | None,
                   baseline: Baseline | None) -> TargetDecision:
    if result.partial and not result.completed:
        # Several scan kinds, one of which could not finish: the findings of those that did are certain,
        # and a failure among them outweighs the missing kind (a failed target outweighs an incomplete one).
        partial = _decide_target(replace(result, error="", timed_out=False), policy, today, baseline)
        if partial.verdict == "failed":
            trouble = wording.timed_out_reason(result) if result.timed_out else wording.incomplete_reason(result)
            return replace(partial, result=result, reason=f"{partial.reason}; also {trouble}")
    if result.timed_out:
        return TargetDecision(result, "timed_out", wording.timed_out_reason(result), policy=policy)
    if result.error:
        return TargetDecision(result, "incomplete", wording.incomplete_reason(result), policy=policy)
    target = result.target
    vexed: dict[Finding, VexStatement] = {}
    kept: dict[Finding, VexStatement] = {}
    ignored: dict[Finding, IgnoreEntry] = {}
    expired: dict[Finding, IgnoreEntry] = {}
    existing: set[Finding] = set()
    used: set[IgnoreEntry] = set()
    active = []
    for finding in result.active:
        statement = applicable(policy.vex, finding, target) if policy.vex else None
        entries = [e for e in policy.ignores if e.matches(finding, target)]
        used.update(entries)
        live = [e for e in entries if today is None or not e.expired(today)]
        if entries and not live:
            expired[finding] = entries[0]
        if statement is not None and not statement.suppresses:
            kept[finding] = statement
        if statement is not None and statement.suppresses:
            vexed[finding] = statement
        elif live:
            ignored[finding] = live[0]
        elif baseline is not None and baseline.contains(finding, target):
            existing.add(finding)
        else:
            active.append(finding)
    # Only vulnerabilities have fixed versions: a secret or malware finding is never "unfixed".
    unfixed = frozenset(f for f in active
                        if policy.ignore_unfixed and f.kind == "vulnerability" and not f.fixed_in.strip())
    counted = [f for f in active if f not in unfixed and not policy.narrowed_out(f)]
    rules = measure(policy, counted)
    failing_set = frozenset(f for rule in rules if rule.tripped for f in rule.findings)
    failing = tuple(f for f in sorted(counted, key=lambda f: f.sort_key) if f in failing_set)  # stable: no set order
    verdict: Verdict = "failed" if failing else "passed"
    suppressed = {"vex": len(vexed), "ignored": len(ignored), "existing": len(existing)}
    reason = wording.target_reason(policy, rules, failing, counted=len(counted), masked=len(result.masked),
                                   uncounted=len(active) - len(counted), suppressed=suppressed,
                                   baseline=baseline.source if baseline else "")
    return TargetDecision(result, verdict, reason, rules, failing, _failing_set=failing_set, _unfixed_set=unfixed,
                          policy=policy, ignored=ignored, expired=expired, vexed=vexed, vex_kept=kept,
                          existing=frozenset(existing), baseline=baseline, entries_used=frozenset(used))
