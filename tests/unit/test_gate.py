from __future__ import annotations

import pytest

from ci_scan.errors import ExitCode
from ci_scan.gate import Policy, evaluate
from ci_scan.models import ScanResult


@pytest.mark.parametrize(
    ("fail_on", "failing", "code"),
    [
        # sample: 2 critical (one masked one not... see conftest), 1 high, 1 medium, 1 low, 1 unknown
        ("critical", 2, ExitCode.GATE_FAILED),
        ("high", 3, ExitCode.GATE_FAILED),
        ("medium", 4, ExitCode.GATE_FAILED),
        ("low", 5, ExitCode.GATE_FAILED),
        ("none", 0, ExitCode.PASSED),
    ],
)
def test_threshold_table(sample_result: ScanResult, fail_on: str, failing: int, code: ExitCode) -> None:
    decision = evaluate(sample_result, Policy.from_fail_on(fail_on))
    assert len(decision.failing) == failing
    assert decision.exit_code is code
    assert all(not f.suppressed for f in decision.failing)


def test_masked_findings_never_fail_the_gate(sample_result: ScanResult) -> None:
    masked_only = ScanResult(
        target=sample_result.target, scan_id="s", findings=sample_result.suppressed
    )
    decision = evaluate(masked_only, Policy.from_fail_on("low"))
    assert decision.passed
    assert "1 masked finding(s) not counted" in decision.reason


def test_reason_names_counts_and_failing_order(sample_result: ScanResult) -> None:
    decision = evaluate(sample_result, Policy.from_fail_on("high"))
    assert decision.reason.startswith("3 finding(s) at or above high: 2 critical, 1 high")
    assert [f.severity.label for f in decision.failing] == ["critical", "critical", "high"]
    assert decision.verdict == "failed"


def test_clean_result_passes() -> None:
    from ci_scan.models import ScanTarget

    empty = ScanResult(target=ScanTarget("n", "image", "img"), scan_id="s", findings=())
    decision = evaluate(empty, Policy())
    assert decision.passed and decision.reason == "no finding at or above critical"


def test_unknown_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="--fail-on"):
        Policy.from_fail_on("severe")
