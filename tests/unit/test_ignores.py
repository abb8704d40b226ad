"""The ignore file: loading (with line numbers for every mistake), matching, expiry on an injected clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ci_scan.decision import decide
from ci_scan.errors import ConfigError, ExitCode
from ci_scan.ignores import load_ignore_file
from ci_scan.policy import Policy
from tests.unit.test_policy import FINDINGS, RUN

TODAY = dt.date(2026, 12, 1)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / ".ci-scan-ignore.yml"
    path.write_text(text)
    return str(path)


def test_entries_load_with_their_scope_and_expiry(tmp_path: Path) -> None:
    path = write(tmp_path, "ignore:\n  - id: C1\n    reason: not reachable\n    package: pkg\n    version: '1.0'\n"
                           "    image: reg.io/team/*\n    expires: 2027-03-31\n  - {id: H1, reason: accepted}\n")
    first, second = load_ignore_file(path)
    assert (first.id, first.reason, first.package, first.version, first.image, first.expires) == (
        "C1", "not reachable", "pkg", "1.0", "reg.io/team/*", dt.date(2027, 3, 31))
    assert first.where == ".ci-scan-ignore.yml line 2" and second.where == ".ci-scan-ignore.yml line 8"
    assert load_ignore_file(write(tmp_path, "")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ignore:\n  - id: C1\n", "line 2: the entry has no 'reason'"),
        ("ignore:\n  - id: C1\n    reason: x\n    packge: p\n", "line 4: unknown key 'packge'"),
        ("ignore:\n  - id: C1\n    reason: x\n    expires: soon\n", "line 2: 'expires' must be a date"),
        ("ignore:\n  - id: C1\n    reason: x\n    expires: '20270331'\n", "line 2: 'expires' must be a date such as"),
        ("ignore:\n  - id: C1\n    reason: ''\n", "line 3: 'reason' must be a non-empty text"),
        ("ignores:\n  - id: C1\n", "line 1: the file must hold one key, 'ignore:'"),
        ("ignore: C1\n", "line 1: 'ignore' must be a list"),
        ("ignore:\n  - C1\n", "line 2: an entry must be a mapping"),
        ("ignore:\n  - id: [C1\n", "not valid YAML"),
    ],
)
def test_every_mistake_names_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_ignore_file(path)
    assert str(refused.value).startswith(path) and message in str(refused.value)


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the ignore file"):
        load_ignore_file(str(tmp_path / "nope.yml"))


def policy_with(tmp_path: Path, text: str, **criteria: Any) -> Policy:
    return Policy.build(ignores=load_ignore_file(write(tmp_path, text)), **criteria)


def test_ignored_findings_never_count_and_say_why(tmp_path: Path) -> None:
    policy = policy_with(tmp_path, "ignore:\n  - {id: C1, reason: not reachable}\n  - {id: C2, reason: no fix yet, "
                                   "image: 'reg.io/team/*', expires: 2027-01-31}\n")
    decision = decide(RUN, policy, today=TODAY)
    target = decision.targets[0]
    by_id = {f.rule_id: f for f in FINDINGS}
    assert decision.exit_code == ExitCode.PASSED
    assert target.disposition(by_id["C1"]) == "ignored"
    assert target.reason_for(by_id["C1"]) == "ignored: not reachable (.ci-scan-ignore.yml line 2)"
    assert target.reason_for(by_id["C2"]).endswith("(.ci-scan-ignore.yml line 3, until 2027-01-31)")
    assert "2 finding(s) accepted by the ignore file" in target.reason
    assert decision.warnings == ()


def test_scope_package_version_and_image_must_all_match(tmp_path: Path) -> None:
    for scope, ignored in [("package: pkg", True), ("package: other", False), ("version: '1.0'", True),
                           ("version: '2.0'", False), ("image: 'reg.io/*'", True), ("image: 'quay.io/*'", False)]:
        policy = policy_with(tmp_path, f"ignore:\n  - id: C1\n    reason: r\n    {scope}\n")
        target = decide(RUN, policy, today=TODAY).targets[0]
        assert (target.disposition(FINDINGS[0]) == "ignored") is ignored, scope


def test_expired_entries_accept_nothing_and_the_owners_are_told(tmp_path: Path) -> None:
    text = ("ignore:\n  - {id: C1, reason: r, expires: 2026-12-01}\n  - {id: C2, reason: r, expires: 2026-12-10}\n"
            "  - {id: GONE-1, reason: r}\n")
    decision = decide(RUN, policy_with(tmp_path, text), today=TODAY)
    target = decision.targets[0]
    assert decision.exit_code == ExitCode.GATE_FAILED
    assert target.disposition(FINDINGS[0]) == "failing"  # expired on the day itself
    assert target.reason_for(FINDINGS[0]).endswith(
        "its ignore entry (.ci-scan-ignore.yml line 2) expired on 2026-12-01")
    assert target.disposition(FINDINGS[1]) == "ignored"  # still 9 days to go
    expired, expiring, stale = decision.warnings
    assert expired.startswith("ignore entry C1 (.ci-scan-ignore.yml line 2) expired on 2026-12-01; the findings")
    assert expiring == "ignore entry C2 (.ci-scan-ignore.yml line 3) expires in 9 day(s)"
    assert stale.startswith("ignore entry GONE-1 (.ci-scan-ignore.yml line 4) matched no finding")
    later = decide(RUN, policy_with(tmp_path, text), today=dt.date(2026, 12, 10))
    assert later.targets[0].disposition(FINDINGS[1]) == "failing"


def test_ignores_come_before_unfixed_and_masking_before_both(tmp_path: Path) -> None:
    text = "ignore:\n  - {id: C2, reason: r}\n  - {id: X1, reason: r}\n"
    policy = policy_with(tmp_path, text, ignore_unfixed=True)
    target = decide(RUN, policy, today=TODAY).targets[0]
    by_id = {f.rule_id: f for f in FINDINGS}
    assert target.disposition(by_id["C2"]) == "ignored"  # unfixed too, but the ignore file comes first
    assert target.disposition(by_id["X1"]) == "masked"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("? [a]\n: x\n", "line 1: the file must hold one key, 'ignore:'"),
        ("ignore:\n  - id: C1\n    reason: r\n    ? [k]\n    : v\n", "line 4: a key must be a plain word"),
        ("ignore:\n  - {id: C1}\nignore:\n  - {id: C2}\n", "the file must hold one key, 'ignore:'"),
        ("ignore:\n  - {id: A, reason: r, id: B}\n", "'id' is given twice in one entry"),
    ],
)
def test_odd_yaml_is_a_usage_error_not_a_crash(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_ignore_file(write(tmp_path, text))


def test_expiry_warnings_reach_every_report(tmp_path: Path) -> None:
    from ci_scan.formats import report

    decision = decide(RUN, policy_with(tmp_path, "ignore:\n  - {id: GONE-1, reason: r}\n"), today=TODAY)
    (warning,) = decision.warnings
    for name in ("junit", "sarif", "json"):
        assert "GONE-1" in report(name).load().render(decision), name
