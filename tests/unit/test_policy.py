"""The criteria, alone and together, at and around each limit: a table-driven test of the gate."""

from __future__ import annotations

from typing import Any

import pytest

from ci_scan.decision import decide
from ci_scan.errors import ExitCode
from ci_scan.models import Finding, RunResult, Severity, Target, TargetResult, VulnerabilityDetails
from ci_scan.policy import Policy

TARGET = Target(kind="image", node_id="n", node_type="image", name="reg.io/team/app:1")


def vuln(rule: str, severity: Severity, *, fixed: str = "1.1", overall: float = 0.0, kev: bool = False,
         exploit: str = "", epss: float = 0.0, network: str = "network", live: bool = True,
         masked: bool = False, package: str = "pkg:1.0") -> Finding:
    details = VulnerabilityDetails(overall_score=overall, cisa_kev=kev, exploit_poc=exploit, epss_score=epss,
                                   network=network, live_connection=live)
    return Finding("vulnerability", rule, severity, package, fixed_in=fixed, masked=masked, result_id=rule,
                   details=details)


FINDINGS = (
    vuln("C1", Severity.CRITICAL, overall=3.9, kev=True),
    vuln("C2", Severity.CRITICAL, overall=3.9, fixed="", network="local"),
    vuln("H1", Severity.HIGH, overall=2.8, exploit="https://exploit.example/1", epss=0.97),
    vuln("H2", Severity.HIGH, overall=1.8, live=False),
    vuln("M1", Severity.MEDIUM, overall=1.2, epss=0.2),
    vuln("L1", Severity.LOW),
    vuln("U1", Severity.UNKNOWN),
    vuln("X1", Severity.CRITICAL, masked=True, kev=True, overall=3.9),
)
RUN = RunResult(targets=(TargetResult(target=TARGET, scan_id="s", status="COMPLETE", findings=FINDINGS),))


def gate(**criteria: Any) -> tuple[ExitCode, set[str], str]:
    policy = Policy.build(**criteria)
    decision = decide(RUN, policy)
    target = decision.targets[0]
    return decision.exit_code, {f.rule_id for f in target.failing}, target.reason


PASS, FAIL = ExitCode.PASSED, ExitCode.GATE_FAILED


@pytest.mark.parametrize(
    ("criteria", "code", "failing"),
    [
        ({}, FAIL, {"C1", "C2"}),  # the default: --fail-on critical
        ({"fail_on": "high"}, FAIL, {"C1", "C2", "H1", "H2"}),
        ({"fail_on": "unknown"}, FAIL, {"C1", "C2", "H1", "H2", "M1", "L1", "U1"}),
        ({"fail_on": "none"}, PASS, set()),
        # count limits: the limit itself passes; the default threshold is off once another criterion is given
        ({"max_counts": {"critical": 2}}, PASS, set()),
        ({"max_counts": {"critical": 1}}, FAIL, {"C1", "C2"}),
        ({"max_counts": {"high": 2}}, PASS, set()),
        ({"max_counts": {"high": 1}}, FAIL, {"H1", "H2"}),
        ({"max_counts": {"low": 0}}, FAIL, {"L1"}),
        ({"max_counts": {"total": 7}}, PASS, set()),
        ({"max_counts": {"total": 6}}, FAIL, {"C1", "C2", "H1", "H2", "M1", "L1", "U1"}),
        ({"max_counts": {"critical": 5}, "fail_on": "critical"}, FAIL, {"C1", "C2"}),
        # package-scanner: count >= N; 0 and -1 are off
        ({"at_least_counts": {"critical": 2}}, FAIL, {"C1", "C2"}),
        ({"at_least_counts": {"critical": 3}}, PASS, set()),
        ({"at_least_counts": {"critical": 0}}, FAIL, {"C1", "C2"}),  # off, so the default threshold applies
        ({"at_least_counts": {"total": 7}}, FAIL, {"C1", "C2", "H1", "H2", "M1", "L1", "U1"}),
        ({"at_least_counts": {"total": 8}}, PASS, set()),  # the masked one does not count
        # cumulative score: (3.9 + 3.9 + 2.8 + 1.8 + 1.2) / 50 = 0.272
        ({"fail_on_score": 0.27}, FAIL, {"C1", "C2", "H1", "H2", "M1"}),
        ({"fail_on_score": 0.28}, PASS, set()),
        # risk criteria
        ({"fail_on_kev": True}, FAIL, {"C1"}),
        ({"fail_on_exploit": True}, FAIL, {"H1"}),
        ({"fail_on_epss": 0.97}, FAIL, {"H1"}),
        ({"fail_on_epss": 0.98}, PASS, set()),
        ({"fail_on_epss": 0.2}, FAIL, {"H1", "M1"}),
        # narrowing applies to every criterion and never switches the default threshold off
        ({"only_network": True}, FAIL, {"C1"}),
        ({"only_live": True, "max_counts": {"high": 0}}, FAIL, {"H1"}),
        ({"ignore_unfixed": True}, FAIL, {"C1"}),
        ({"ignore_unfixed": True, "only_network": True, "fail_on_kev": True}, FAIL, {"C1"}),
        ({"fail_on_kev": True, "max_counts": {"medium": 0}}, FAIL, {"C1", "M1"}),
    ],
)
def test_each_criterion_alone_and_combined(criteria: dict[str, Any], code: ExitCode, failing: set[str]) -> None:
    got_code, got_failing, _ = gate(**criteria)
    assert (got_code, got_failing) == (code, failing)


def test_the_reason_says_what_was_measured_against_which_limit() -> None:
    _, _, reason = gate(max_counts={"critical": 1}, fail_on_kev=True)
    assert reason.startswith(
        "2 critical finding(s) > limit 1 (--max-critical): C1, C2; C1 is in CISA KEV (--fail-on-kev)")
    assert reason.endswith("1 masked finding(s) not counted")
    _, _, passing = gate(max_counts={"critical": 5}, fail_on_score=9.0)
    assert passing.startswith("no criterion tripped (--max-critical 5: 2, --fail-on-score 9: 0.27)")
    _, _, default = gate()
    assert default.startswith("2 finding(s) at or above critical: 2 critical")


def test_each_failing_finding_names_the_criteria_that_counted_it() -> None:
    target = decide(RUN, Policy.build(max_counts={"critical": 1}, fail_on_kev=True)).targets[0]
    by_id = {f.rule_id: f for f in FINDINGS}
    assert target.reason_for(by_id["C1"]) == (
        "fails the gate: one of 2 critical findings, more than --max-critical 1; in CISA KEV (--fail-on-kev)")
    assert target.reason_for(by_id["H1"]) == "counted by no criterion that tripped"
    assert target.reason_for(by_id["X1"]) == "masked in the console"
    unfixed = decide(RUN, Policy.build(ignore_unfixed=True, only_network=True)).targets[0]
    assert unfixed.disposition(by_id["C2"]) == "unfixed"
    assert unfixed.reason_for(by_id["C2"]) == "not gated: no fixed version is known (--ignore-unfixed)"
    narrowed = decide(RUN, Policy.build(only_live=True)).targets[0]
    assert narrowed.reason_for(by_id["H2"]) == "not counted: no live connection (--only-live)"


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"max_counts": {"high": -1}}, "--max-high must be 0 or more"),
        ({"fail_on_score": 10.5}, "--fail-on-score must be at most 10"),
        ({"fail_on_epss": 1.5}, "--fail-on-epss is a probability"),
        ({"fail_on_epss": 0.0}, "--fail-on-epss is a probability"),
        ({"fail_on": "severe"}, "--fail-on must be one of"),
    ],
)
def test_bad_criteria_are_refused(criteria: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy.build(**criteria)


def test_the_criteria_in_force_are_listed_as_options() -> None:
    assert Policy.build().criteria() == ["--fail-on critical"]
    assert Policy.build(fail_on="none").criteria() == []
    policy = Policy.build(max_counts={"critical": 0}, at_least_counts={"total": 100, "low": -1}, fail_on_score=8,
                          fail_on_kev=True, fail_on_epss=0.5)
    assert policy.criteria() == ["--max-critical 0", "--fail-on-count 100", "--fail-on-score 8", "--fail-on-kev",
                                 "--fail-on-epss 0.5"]
    assert not policy.only_threshold and Policy.build(fail_on="high").only_threshold


def test_the_score_is_compared_unrounded_and_nan_is_refused() -> None:
    # (3.9 + 3.9 + 2.8 + 1.8 + 1.2) / 50 = 0.272, which rounds to 0.27: a limit of 0.2705 must still trip
    assert gate(fail_on_score=0.2705)[0] == FAIL
    assert gate(fail_on_score=0.2721)[0] == PASS
    with pytest.raises(ValueError, match="--fail-on-score must be a number"):
        Policy.build(fail_on_score=float("nan"))


def test_unfixed_applies_to_vulnerabilities_only() -> None:
    secret = Finding("secret", "aws-key", Severity.HIGH, "/app/.env")
    run = RunResult(targets=(TargetResult(target=TARGET, scan_id="s", status="COMPLETE", findings=(secret,)),))
    decision = decide(run, Policy.build(fail_on="high", ignore_unfixed=True))
    assert decision.exit_code == FAIL and decision.targets[0].disposition(secret) == "failing"
