"""The decision: a pure function from a run's results and the policy to one object every output renders.

It holds each finding's disposition, each rule's measured value against its limit, each target's
verdict, the run's verdict and the exit code. The words for all of it live in `wording`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ci_scan import wording
from ci_scan.choices import FAIL_ON_CHOICES
from ci_scan.errors import ExitCode
from ci_scan.models import Finding, RunResult, Severity, TargetResult, severity_counts

Disposition = Literal["failing", "passing", "masked"]
"""A finding's part in the gate: it fails it, it does not, or it is masked in the console."""
Verdict = Literal["passed", "failed", "incomplete", "timed_out"]


@dataclass(frozen=True)
class Policy:
    fail_on: Severity | None = Severity.CRITICAL
    """Fail on any unmasked finding at or above this severity; None reports only."""

    @classmethod
    def from_fail_on(cls, text: str) -> Policy:
        text = text.strip().lower()
        if text not in FAIL_ON_CHOICES:
            raise ValueError(f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {text!r}")
        return cls(fail_on=None if text == "none" else Severity.parse(text))

    @property
    def threshold_label(self) -> str:
        return self.fail_on.label if self.fail_on is not None else "none"


@dataclass(frozen=True)
class RuleOutcome:
    """One criterion applied to one target: what was measured, the limit, whether it tripped."""

    rule: str
    """The option that sets it, e.g. `fail-on`."""
    limit: str
    measured: int
    tripped: bool
    findings: tuple[Finding, ...] = ()
    """The findings that count towards it, most severe first."""


@dataclass(frozen=True)
class TargetDecision:
    result: TargetResult
    verdict: Verdict
    reason: str
    rules: tuple[RuleOutcome, ...] = ()
    failing: tuple[Finding, ...] = ()
    """Findings that fail the gate, most severe first."""
    _failing_set: frozenset[Finding] = field(default=frozenset(), repr=False, compare=False)

    def disposition(self, finding: Finding) -> Disposition:
        if finding.masked:
            return "masked"
        return "failing" if finding in self._failing_set else "passing"

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
        return TargetDecision(result, "timed_out", wording.timed_out_reason(result))
    if result.error:
        return TargetDecision(result, "incomplete", wording.incomplete_reason(result))
    threshold = policy.fail_on
    counted = result.active
    failing = tuple(sorted(
        (f for f in counted if threshold is not None and f.severity >= threshold), key=lambda f: f.sort_key
    ))
    rules = (
        RuleOutcome(rule="fail-on", limit=policy.threshold_label, measured=len(failing),
                    tripped=bool(failing), findings=failing),
    )
    verdict: Verdict = "failed" if failing else "passed"
    reason = wording.gate_reason(
        policy.threshold_label, failing, active=len(counted), masked=len(result.masked),
        report_only=threshold is None,
    )
    return TargetDecision(result, verdict, reason, rules, failing, frozenset(failing))
