"""The plain-text summary: a line per target, the failing findings, the run's verdict, what went wrong."""

from __future__ import annotations

from dataclasses import replace

from ci_scan.models import RunResult, Severity, TargetResult
from ci_scan.summary import render_summary
from tests.formats.helpers import decide, image_target, only, vulnerability, with_target

HINT = [
    "To accept a finding, add an entry with a reason and an expiry to .ci-scan-ignore.yml, e.g.:",
    "  ignore:",
    "    - id: CVE-2024-0001",
    "      package: openssl",
    "      image: registry.example.com/team/app",
    "      reason: <why this is acceptable>",
    "      expires: <YYYY-MM-DD>",
]
"""The summary's last lines when CVE-2024-0001 in openssl is the most severe failing finding."""


def test_one_target(sample_run: RunResult) -> None:
    result = only(sample_run)
    assert render_summary(decide(sample_run, "high")).splitlines() == [
        "ci-scan: 1 target(s) on https://console.example.com",
        f"  registry.example.com/team/app:1.4.2: scan {result.scan_id}: "
        "2 critical, 1 high, 1 medium, 1 low, 1 unknown, 1 masked: failed",
        "Findings that fail the gate:",
        "  CRITICAL CVE-2024-0001        openssl:3.0.2  (fixed in 3.0.14)",
        "  CRITICAL CVE-2024-0001        openssl:3.0.2 /usr/lib/libssl.so.3  (no fix yet)",
        "  HIGH     CVE-2024-0002        lodash:4.17.20 /app/node_modules/lodash/package.json  (no fix yet)",
        "Gate FAILED (--fail-on high): 3 finding(s) at or above high: 2 critical, 1 high; "
        "1 masked finding(s) not counted",
        "Policy: --fail-on high (option)",
        *HINT,
    ]


def test_a_line_per_target_then_findings_then_the_runs_verdict(multi_run: RunResult) -> None:
    decision = decide(multi_run, "high")
    lines = render_summary(decision).splitlines()
    assert lines[:6] == [
        "ci-scan: 5 target(s) on https://console.example.com",
        f"  registry.example.com/team/app:1.4.2: scan {multi_run.targets[0].scan_id}: "
        "2 critical, 1 high, 1 medium, 1 low, 1 unknown, 1 masked: failed",
        "  registry.example.com/team/app:1.5.0: scan app150-scan: 1 medium, 1 low: passed",
        "  quay.io/acme/api:2.0: scan api20-scan: 1 high, 1 low: failed",
        "  registry.example.com/team/worker:3.1: scan worker31-scan: could not be completed",
        "  quay.io/acme/api:2.1: scan api21-scan: timed out",
    ]
    assert lines[6] == "Findings that fail the gate:"
    assert lines[7].endswith("  [registry.example.com/team/app:1.4.2]")
    assert lines[10] == (
        "  HIGH     CVE-2024-0100        requests:2.25.0 /usr/lib/python3/site-packages/requests  "
        "(fixed in 2.31.0)  [quay.io/acme/api:2.0]"
    )
    assert lines[11:] == [
        "Gate FAILED (--fail-on high): 5 targets: 1 passed, 2 failed, 1 could not be completed, 1 timed out",
        "Policy: --fail-on high (option)",
        "Not counted: 1 masked",
        f"Incomplete: registry.example.com/team/worker:3.1: {decision.targets[3].reason}",
        f"Timed out: quay.io/acme/api:2.1: {decision.targets[4].reason}",
        "Note: registry.example.com/team/app:1.5.0: reused a scan of this digest that finished 5 minutes earlier",
        "Warning: quay.io/acme/api:2.0: the console returned 1 duplicate row",
        "Warning: the console did not report its version",
        *HINT,
    ]


def test_failing_findings_are_capped_over_all_targets(multi_run: RunResult) -> None:
    many = tuple(
        vulnerability(f"CVE-2024-9{i:03d}", Severity.CRITICAL, f"lib{i}:1", score=9.9, result_id=f"x{i}")
        for i in range(7)
    )
    extra = TargetResult(target=image_target("reg.io/other:1"), scan_id="x", status="COMPLETE", findings=many)
    run = replace(multi_run, targets=(*multi_run.targets, extra))
    lines = render_summary(decide(run, "high")).splitlines()
    (title,) = [line for line in lines if line.startswith("Findings that fail the gate")]
    assert title == "Findings that fail the gate (first 10 of 11):"
    listed = [line for line in lines if line.startswith(("  CRITICAL", "  HIGH"))]
    assert len(listed) == 10
    assert listed[0].startswith("  CRITICAL CVE-2024-9000") and listed[0].endswith("[reg.io/other:1]")
    assert all("CVE-2024-0100" not in line for line in listed), "the least severe failing finding is cut"


def test_when_nothing_fails_the_most_severe_are_shown(sample_run: RunResult) -> None:
    lines = render_summary(decide(sample_run, "none"), top=2).splitlines()
    assert lines[2:5] == [
        "Most severe findings (first 2 of 6):",
        "  CRITICAL CVE-2024-0001        openssl:3.0.2  (fixed in 3.0.14)",
        "  CRITICAL CVE-2024-0001        openssl:3.0.2 /usr/lib/libssl.so.3  (no fix yet)",
    ]
    assert lines[-1] == "Policy: --fail-on none: report only"
    assert lines[-2] == "Gate PASSED (--fail-on none): report only (--fail-on none): 6 finding(s) not gated; " \
        "1 masked finding(s) not counted"


def test_a_clean_run_and_a_single_incomplete_target(sample_run: RunResult) -> None:
    clean = render_summary(decide(with_target(sample_run, findings=()), "low")).splitlines()
    assert clean[1].endswith(": no findings: passed")
    assert clean[2:] == ["Gate PASSED (--fail-on low): no finding at or above low", "Policy: --fail-on low (option)"]
    failed = with_target(sample_run, findings=(), error="the console answered 500")
    decision = decide(failed)
    assert "the console answered 500" in decision.reason
    lines = render_summary(decision).splitlines()
    assert lines[-3:] == [
        f"Gate INCOMPLETE (--fail-on high): {decision.reason}",
        "Policy: --fail-on high (option)",
        f"Incomplete: registry.example.com/team/app:1.4.2: {decision.reason}",
    ]


def test_target_warnings_are_named_only_when_there_are_several(sample_run: RunResult) -> None:
    run = with_target(sample_run, warnings=("odd",))
    assert "Warning: odd" in render_summary(decide(run)).splitlines()


def test_colour_only_at_a_terminal_without_no_color(sample_run: RunResult) -> None:
    import io

    from ci_scan.summary import use_colour

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_colour(Terminal(), {}) is True
    assert use_colour(Terminal(), {"NO_COLOR": ""}) is False  # set, whatever its value
    assert use_colour(Terminal(), {"TERM": "dumb"}) is False
    assert use_colour(io.StringIO(), {}) is False  # a pipe, a file, a CI log
    assert use_colour(io.StringIO(), {"FORCE_COLOR": "1"}) is True  # a CI log that shows colour
    assert use_colour(io.StringIO(), {"FORCE_COLOR": "0"}) is False
    assert use_colour(Terminal(), {"FORCE_COLOR": "1", "NO_COLOR": "1"}) is False
    plain = render_summary(decide(sample_run, "high"))
    coloured = render_summary(decide(sample_run, "high"), colour=True)
    assert "\x1b" not in plain
    assert "\x1b[31;1mGate FAILED\x1b[0m (--fail-on high)" in coloured
    assert "\x1b[31;1m  CRITICAL\x1b[0m CVE-2024-0001" in coloured
    assert coloured.replace("\x1b[31;1m", "").replace("\x1b[31m", "").replace("\x1b[0m", "") == plain


def test_console_text_cannot_forge_colours(nasty_run: RunResult) -> None:
    coloured = render_summary(decide(nasty_run, "high"), colour=True)
    # Every escape is one of ours: at a line start, from the fixed table.
    for line in coloured.splitlines():
        assert line.count("\x1b[") in (0, 2), line
