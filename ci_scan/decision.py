"""The decision: a pure function from a run's results and the policy to one object every output renders.

It holds each finding's disposition, each rule's measured value against its limit, each target's
verdict, the run's verdict and the exit code. The words for all of it live in `wording`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ci_scan import wording
from ci_scan.errors import ExitCode
from ci_scan.models import Finding, RunResult, Severity, TargetResult, severity_counts
from ci_scan.policy import Policy, RuleOutcome, measure

__all__ = ["Decision", "Disposition", "Policy", "RuleOutcome", "TargetDecision", "Verdict", "decide"]

Disposition = Literal["failing", "passing", "masked", "unfixed"]
"""A finding's part in the gate: it fails it, it does not, it is masked in the console, or it has no fix
and --ignore-unfixed keeps it from failing the gate."""
Verdict = Literal["passed", "failed", "incomplete", "timed_out"]


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

    def disposition(self, finding: Finding) -> Disposition:
        if finding.masked:
            return "masked"
        if finding in self._failing_set:
            return "failing"
        return "unfixed" if finding in self._unfixed_set else "passing"

    def reason_for(self, finding: Finding) -> str:
        """Why the finding fails the gate, or why it does not."""
        disposition = self.disposition(finding)
        counted_by = [r for r in self.rules if r.tripped and finding in r.findings] if disposition == "failing" else []
        return wording.finding_reason(disposition, finding, self.policy, counted_by)

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

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self.verdict]

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


def decide(run: RunResult, policy: Policy) -> Decision:
    targets = tuple(_decide_target(result, policy) for result in run.targets)
    verdicts = {t.verdict for t in targets}
    # An empty run proves nothing: it never reads as passed.
    verdict: Verdict = next((v for v in _PRECEDENCE if v in verdicts), "passed") if targets else "incomplete"
    return Decision(
        policy=policy,
        run=run,
        targets=targets,
        verdict=verdict,
        reason=wording.run_reason(verdict, [(t.verdict, t.reason) for t in targets]),
    )


def _decide_target(result: TargetResult, policy: Policy) -> TargetDecision:
    if result.timed_out:
        return TargetDecision(result, "timed_out", wording.timed_out_reason(result), policy=policy)
    if result.error:
        return TargetDecision(result, "incomplete", wording.incomplete_reason(result), policy=policy)
    active = result.active
    unfixed = frozenset(f for f in active if policy.ignore_unfixed and not f.fixed_in.strip())
    counted = [f for f in active if f not in unfixed and not policy.narrowed_out(f)]
    rules = measure(policy, counted)
    failing_set = frozenset(f for rule in rules if rule.tripped for f in rule.findings)
    failing = tuple(f for f in sorted(counted, key=lambda f: f.sort_key) if f in failing_set)  # stable: no set order
    verdict: Verdict = "failed" if failing else "passed"
    reason = wording.target_reason(policy, rules, failing, counted=len(counted), masked=len(result.masked),
                                   uncounted=len(active) - len(counted))
    return TargetDecision(result, verdict, reason, rules, failing, failing_set, unfixed, policy)
