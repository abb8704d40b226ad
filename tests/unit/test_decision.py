"""decide(): each finding's disposition, each rule's outcome, each target's verdict, the run's verdict and exit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ci_scan.decision import Policy, decide
from ci_scan.errors import ExitCode
from ci_scan.models import RunResult, Severity, Target, TargetResult


def one(run: RunResult) -> TargetResult:
    (result,) = run.targets
    return result


@pytest.mark.parametrize(
    ("fail_on", "failing", "code"),
    [
        # sample: 3 critical (one of them masked), 1 high, 1 medium, 1 low, 1 unknown
        ("critical", 2, ExitCode.GATE_FAILED),
        ("high", 3, ExitCode.GATE_FAILED),
        ("medium", 4, ExitCode.GATE_FAILED),
        ("low", 5, ExitCode.GATE_FAILED),
        ("none", 0, ExitCode.PASSED),
    ],
)
def test_threshold_table(sample_run: RunResult, fail_on: str, failing: int, code: ExitCode) -> None:
    decision = decide(sample_run, Policy.from_fail_on(fail_on))
    assert len(decision.failing) == len(decision.targets[0].failing) == failing
    assert decision.exit_code is code and decision.targets[0].exit_code is code
    assert all(not f.masked for _, f in decision.failing)


def test_masked_findings_never_fail_the_gate(sample_run: RunResult) -> None:
    masked_only = replace(sample_run, targets=(replace(one(sample_run), findings=one(sample_run).masked),))
    decision = decide(masked_only, Policy.from_fail_on("low"))
    assert decision.passed and decision.verdict == "passed"
    assert "1 masked finding(s) not counted" in decision.reason


def test_reason_names_counts_and_failing_order(sample_run: RunResult) -> None:
    decision = decide(sample_run, Policy.from_fail_on("high"))
    assert decision.reason.startswith("3 finding(s) at or above high: 2 critical, 1 high")
    assert [f.severity.label for _, f in decision.failing] == ["critical", "critical", "high"]
    assert decision.verdict == "failed"


def test_clean_result_passes() -> None:
    empty = RunResult(targets=(TargetResult(target=Target("image", "n", "image", "img"), scan_id="s"),))
    decision = decide(empty, Policy())
    assert decision.passed and decision.reason == "no finding at or above critical"
    assert decision.exit_code is ExitCode.PASSED


def test_unknown_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="--fail-on"):
        Policy.from_fail_on("severe")


def test_each_finding_has_its_disposition(sample_run: RunResult) -> None:
    target = decide(sample_run, Policy.from_fail_on("high")).targets[0]
    assert {f.result_id: target.disposition(f) for f in one(sample_run).findings} == {
        "r1": "failing",
        "r2": "failing",
        "r3": "passing",
        "r4": "passing",
        "r5": "passing",
        "r6": "masked",
        "r7": "failing",
    }
    report_only = decide(sample_run, Policy.from_fail_on("none")).targets[0]
    assert {report_only.disposition(f) for f in one(sample_run).findings} == {"passing", "masked"}


def test_the_rule_outcome_measures_against_the_limit(sample_run: RunResult) -> None:
    target = decide(sample_run, Policy.from_fail_on("critical")).targets[0]
    (rule,) = target.rules
    assert (rule.rule, rule.limit, rule.measured, rule.tripped) == ("fail-on", "critical", 2, True)
    assert [f.result_id for f in rule.findings] == ["r1", "r7"], "most severe first, the masked one left out"
    assert decide(sample_run, Policy.from_fail_on("none")).targets[0].rules == ()  # no criterion in force


def test_a_target_not_completed_has_no_rules_and_nothing_failing(multi_run: RunResult) -> None:
    decision = decide(multi_run, Policy.from_fail_on("low"))
    worker, api_21 = decision.targets[3:]
    assert (worker.verdict, worker.exit_code, worker.rules, worker.failing) == (
        "incomplete", ExitCode.SCAN_INCOMPLETE, (), ()
    )
    assert multi_run.targets[3].error in worker.reason, "the reason carries the console's message"
    assert (api_21.verdict, api_21.exit_code) == ("timed_out", ExitCode.TIMED_OUT)
    assert "--timeout" in api_21.reason and "IN_PROGRESS" in api_21.reason


def test_a_target_not_completed_fails_nothing_even_with_findings(sample_run: RunResult) -> None:
    broken = replace(one(sample_run), error="page 2 of the results could not be read")
    target = decide(replace(sample_run, targets=(broken,)), Policy.from_fail_on("low")).targets[0]
    assert target.verdict == "incomplete" and target.failing == ()
    assert {target.disposition(f) for f in broken.findings} == {"passing", "masked"}


@pytest.mark.parametrize(
    ("indices", "verdict", "code"),
    [
        # multi_run at --fail-on high: 0 failed, 1 passed, 2 failed, 3 incomplete, 4 timed out
        ((0, 1, 2, 3, 4), "failed", ExitCode.GATE_FAILED),
        ((3, 4, 0), "failed", ExitCode.GATE_FAILED),
        ((4, 3, 1), "incomplete", ExitCode.SCAN_INCOMPLETE),
        ((1, 4), "timed_out", ExitCode.TIMED_OUT),
        ((1,), "passed", ExitCode.PASSED),
        ((3,), "incomplete", ExitCode.SCAN_INCOMPLETE),
        ((4,), "timed_out", ExitCode.TIMED_OUT),
        ((2,), "failed", ExitCode.GATE_FAILED),
    ],
)
def test_exit_precedence(multi_run: RunResult, indices: tuple[int, ...], verdict: str, code: ExitCode) -> None:
    run = replace(multi_run, targets=tuple(multi_run.targets[i] for i in indices))
    decision = decide(run, Policy.from_fail_on("high"))
    assert (decision.verdict, decision.exit_code) == (verdict, code)
    assert decision.passed is (verdict == "passed")


def test_a_single_targets_reason_is_the_runs(multi_run: RunResult) -> None:
    for result in multi_run.targets:
        decision = decide(replace(multi_run, targets=(result,)), Policy.from_fail_on("high"))
        assert decision.reason == decision.targets[0].reason


def test_the_runs_reason_tallies_its_targets(multi_run: RunResult) -> None:
    decision = decide(multi_run, Policy.from_fail_on("high"))
    assert decision.reason == "5 targets: 1 passed, 2 failed, 1 could not be completed, 1 timed out"
    passing = decide(replace(multi_run, targets=multi_run.targets[:2]), Policy.from_fail_on("none"))
    assert passing.reason == "2 targets: 2 passed"


def test_failing_findings_and_counts_over_every_target(multi_run: RunResult) -> None:
    decision = decide(multi_run, Policy.from_fail_on("high"))
    assert [(t.result.target.name, f.result_id) for t, f in decision.failing] == [
        ("registry.example.com/team/app:1.4.2", "r1"),
        ("registry.example.com/team/app:1.4.2", "r7"),
        ("registry.example.com/team/app:1.4.2", "r2"),
        ("quay.io/acme/api:2.0", "c1"),
    ]
    assert dict(decision.counts()) == {
        Severity.CRITICAL: 2,
        Severity.HIGH: 2,
        Severity.MEDIUM: 2,
        Severity.LOW: 3,
        Severity.UNKNOWN: 1,
    }
