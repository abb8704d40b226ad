"""Every finding gets one disposition; when several apply, masked > VEX > ignored > existing > unfixed."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import pytest

from ci_scan.baseline import Baseline
from ci_scan.decision import Disposition, Policy, decide
from ci_scan.ignores import IgnoreEntry
from ci_scan.models import Finding, RunResult, Severity, TargetResult
from ci_scan.vex import Product, VexStatement
from tests.formats.helpers import image_target, vulnerability

IMAGE = "registry.example.com/team/app:1.4.2"
TARGET = image_target(IMAGE)
TODAY = dt.date(2026, 12, 1)
CRITICAL = vulnerability("CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2", location="/usr/lib/libssl.so.3")


def statement(status: str = "not_affected", rule_id: str = "CVE-2024-0001") -> VexStatement:
    return VexStatement(vulnerability=rule_id, aliases=(), products=(Product((IMAGE,)),), status=status,
                        justification="vulnerable_code_not_present" if status == "not_affected" else "",
                        impact_statement="", action_statement="", timestamp=None, where="vex.json statement 1")


def entry(expires: dt.date | None = None) -> IgnoreEntry:
    return IgnoreEntry(id="CVE-2024-0001", reason="reviewed", expires=expires, where=".ci-scan-ignore.yml line 2")


SUPPRESSORS = ("masked", "vex", "ignored", "existing", "unfixed")


def decide_one(finding: Finding, applied: tuple[str, ...], *, expired_entry: bool = False,
               fail_on: str = "critical") -> tuple[Disposition, str]:
    if "masked" in applied:
        finding = replace(finding, masked=True)
    if "unfixed" not in applied:
        finding = replace(finding, fixed_in="3.0.14")
    ignores: tuple[IgnoreEntry, ...] = (entry(),) if "ignored" in applied else ()
    if expired_entry:
        ignores += (entry(TODAY - dt.timedelta(days=1)),)
    policy = Policy.build(fail_on=fail_on, ignore_unfixed=True, ignores=ignores)
    policy = replace(policy, vex=(statement(),) if "vex" in applied else ())
    baseline = Baseline.of("scan old", [replace(finding, component="openssl:1.1.1")]) if "existing" in applied \
        else None
    run = RunResult(targets=(TargetResult(TARGET, "scan-1", "COMPLETE", (finding,)),))
    decision = decide(run, policy, today=TODAY, baseline=baseline)
    (target,) = decision.targets
    return target.disposition(finding), target.reason_for(finding)


@pytest.mark.parametrize("applied", [combo for n in range(1, len(SUPPRESSORS) + 1)
                                     for combo in itertools.combinations(SUPPRESSORS, n)])
def test_the_first_suppressor_in_order_wins(applied: tuple[str, ...]) -> None:
    disposition, reason = decide_one(CRITICAL, applied)
    assert disposition == applied[0]  # combinations keep SUPPRESSORS' order
    expected = {"masked": "masked in the console", "vex": "suppressed by VEX: CVE-2024-0001 not_affected",
                "ignored": "ignored: reviewed (.ci-scan-ignore.yml line 2)",
                "existing": "existing: already in the baseline (scan old)",
                "unfixed": "not gated: no fixed version is known"}[applied[0]]
    assert reason.startswith(expected), reason


def test_nothing_applied_a_critical_fails() -> None:
    assert decide_one(CRITICAL, ())[0] == "failing"


@pytest.mark.parametrize(("fail_on", "expected"), [("critical", "failing"), ("none", "expired")])
def test_an_expired_ignore_suppresses_nothing(fail_on: str, expected: Disposition) -> None:
    disposition, reason = decide_one(CRITICAL, (), expired_entry=True, fail_on=fail_on)
    assert disposition == expected
    assert "expired on 2026-11-30" in reason


def test_a_live_entry_wins_over_an_expired_one_for_the_same_finding() -> None:
    assert decide_one(CRITICAL, ("ignored",), expired_entry=True)[0] == "ignored"


@pytest.mark.parametrize(("status", "suppresses"), [("not_affected", True), ("fixed", True), ("affected", False),
                                                    ("under_investigation", False)])
def test_only_not_affected_and_fixed_statements_suppress(status: str, suppresses: bool) -> None:
    finding = replace(CRITICAL, fixed_in="3.0.14")
    policy = replace(Policy.build(fail_on="critical"), vex=(statement(status),))
    decision = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", (finding,)),)), policy)
    (target,) = decision.targets
    assert (target.disposition(finding) == "vex") is suppresses
    assert decision.passed is suppresses
    # The reports list the statement that decided, whatever it said; a counted finding's reason quotes it.
    assert [s.status for s in decision.vex_applied] == [status]
    if not suppresses:
        assert target.reason_for(finding).endswith(f"VEX says {status} (vex.json statement 1)")


def test_a_statement_for_another_vulnerability_or_image_does_not_apply() -> None:
    finding = replace(CRITICAL, fixed_in="3.0.14")
    other_image = replace(statement(), products=(Product(("registry.example.com/team/other:1.0",)),))
    for vex in (statement(rule_id="CVE-2024-9999"), other_image):
        decision = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", (finding,)),)),
                          replace(Policy.build(), vex=(vex,)))
        assert decision.verdict == "failed" and not decision.vex_applied


def test_the_target_reason_counts_each_suppression() -> None:
    findings = tuple(vulnerability(f"CVE-2024-000{i}", Severity.CRITICAL, f"lib{i}:1", fixed_in="2") for i in range(4))
    ignores = (IgnoreEntry(id="CVE-2024-0001", reason="ok", where="f line 1"),)
    policy = replace(Policy.build(fail_on="critical", ignores=ignores), vex=(statement(rule_id="CVE-2024-0000"),))
    baseline = Baseline.of("scan old", [findings[2]])
    decision = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", findings),)), policy,
                      baseline=baseline)
    assert decision.reason == ("1 finding(s) at or above critical: 1 critical; 1 finding(s) not affected per VEX; "
                               "1 finding(s) accepted by the ignore file; 1 finding(s) already in the baseline "
                               "(scan old)")
    (target,) = decision.targets
    assert target.suppressed() == {"masked": 0, "vex": 1, "ignored": 1, "existing": 1, "unfixed": 0}


def test_an_ignore_entry_shadowed_by_vex_is_not_called_stale() -> None:
    finding = replace(CRITICAL, fixed_in="3.0.14")
    policy = replace(Policy.build(ignores=(entry(),)), vex=(statement(),))
    decision = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", (finding,)),)), policy, today=TODAY)
    assert decision.targets[0].disposition(finding) == "vex"
    assert not [w for w in decision.warnings if "matched no finding" in w]


def test_the_hint_names_the_file_the_team_keeps_its_entries_in() -> None:
    from ci_scan.summary import render_summary

    other = IgnoreEntry(id="CVE-2024-0999", reason="reviewed", where="security/accepted.yml line 3")
    decision = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", (CRITICAL,)),)),
                      Policy.build(ignores=(other,)))
    assert "add an entry with a reason and an expiry to security/accepted.yml, e.g.:" in render_summary(decision)
    plain = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", (CRITICAL,)),)), Policy.build())
    assert "add an entry with a reason and an expiry to .ci-scan-ignore.yml, e.g.:" in render_summary(plain)


def test_no_entry_is_called_stale_when_nothing_was_gated() -> None:
    incomplete = TargetResult(TARGET, "s", "ERROR", error="the scan ended ERROR")
    for run in (RunResult(targets=(), error="the console is unreachable"), RunResult(targets=(incomplete,))):
        decision = decide(run, Policy.build(ignores=(entry(),)), today=TODAY)
        assert not [w for w in decision.warnings if "matched no finding" in w], decision.warnings
    gated = decide(RunResult(targets=(TargetResult(TARGET, "s", "COMPLETE", ()),)), Policy.build(ignores=(entry(),)))
    assert [w for w in gated.warnings if "matched no finding" in w]
