"""The gate: a pure decision on a scan result."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from ci_scan.errors import ExitCode
from ci_scan.models import Finding, ScanResult, Severity

FAIL_ON_CHOICES = ("critical", "high", "medium", "low", "none")

GateStatus = Literal["failed", "passed", "masked"]
"""A finding's part in the gate: it fails it, it does not, or it is masked in the console."""


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

    def breaches(self, finding: Finding) -> bool:
        return (
            self.fail_on is not None
            and not finding.suppressed
            and finding.severity >= self.fail_on
        )


@dataclass(frozen=True)
class GateDecision:
    policy: Policy
    failing: tuple[Finding, ...]
    """Findings that fail the gate, most severe first."""
    reason: str

    @property
    def passed(self) -> bool:
        return not self.failing

    @cached_property
    def _failing_set(self) -> frozenset[Finding]:
        return frozenset(self.failing)

    def status(self, finding: Finding) -> GateStatus:
        if finding.suppressed:
            return "masked"
        return "failed" if finding in self._failing_set else "passed"

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PASSED if self.passed else ExitCode.GATE_FAILED

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed"


def evaluate(result: ScanResult, policy: Policy) -> GateDecision:
    failing = tuple(sorted((f for f in result.findings if policy.breaches(f)), key=lambda f: f.sort_key))
    suppressed = len(result.suppressed)
    masked_note = f"; {suppressed} masked finding(s) not counted" if suppressed else ""
    if policy.fail_on is None:
        reason = f"report only (--fail-on none): {len(result.active)} finding(s) not gated{masked_note}"
    elif failing:
        by_severity: dict[Severity, int] = {}
        for finding in failing:
            by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
        parts = ", ".join(f"{n} {s.label}" for s, n in sorted(by_severity.items(), reverse=True))
        reason = f"{len(failing)} finding(s) at or above {policy.threshold_label}: {parts}{masked_note}"
    else:
        reason = f"no finding at or above {policy.threshold_label}{masked_note}"
    return GateDecision(policy=policy, failing=failing, reason=reason)
