"""Runs for the report tests: empty, huge, full of hostile strings, and 25 repositories."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ci_scan.models import Finding, RunResult, Severity, TargetResult, VulnerabilityDetails
from tests.formats.helpers import DIGEST, LARGE_SIZE, NASTY_TEXT, image_target, single, vulnerability


@pytest.fixture
def empty_run() -> RunResult:
    """A clean scan of a Docker Hub image: nothing found."""
    return single(
        TargetResult(
            target=image_target("alpine:3.20"),
            scan_id="empty-scan-1",
            status="COMPLETE",
            started_at_ms=1732752000000,
            finished_at_ms=1732752001234,
        ),
        console_url="https://console.example.com:8443",
    )


@pytest.fixture(scope="session")
def large_run() -> RunResult:
    """20,000 findings over 5,000 CVEs, every severity, some masked, most with paths."""
    severities = list(Severity)
    findings = tuple(
        Finding(
            kind="vulnerability",
            rule_id=f"CVE-2024-{i % 5000:05d}",
            severity=severities[i % len(severities)],
            component=f"package-{i % 700}:1.{i % 13}.{i}",
            location=f"/usr/lib/package-{i}/lib.so" if i % 3 else "",
            fixed_in=f"1.{i % 13}.{i + 1}" if i % 2 else "",
            score=round((i % 100) / 10, 1),
            description=f"Description of finding {i}. " * 10,
            link=f"https://nvd.nist.gov/vuln/detail/CVE-2024-{i % 5000:05d}",
            details=VulnerabilityDetails(cve_type="base" if i % 4 else "java"),
            masked=i % 97 == 0,
            result_id=f"r{i}",
        )
        for i in range(LARGE_SIZE)
    )
    return single(
        TargetResult(
            target=image_target("registry.example.com/big/monolith:2024.11"),
            scan_id="large-scan-1",
            status="COMPLETE",
            findings=findings,
            started_at_ms=1732752000000,
            finished_at_ms=1732752600500,
        )
    )


@pytest.fixture
def nasty_run() -> RunResult:
    """Hostile strings everywhere a console could put them."""
    base = Finding(
        kind="vulnerability",
        rule_id="CVE-2024-1000",
        severity=Severity.CRITICAL,
        component="lib:evil:1.0",
        location="/opt/my app/lib:v2/file name.jar",
        fixed_in="1.0.1 <or> 2.0",
        score=9.9,
        description=NASTY_TEXT + "\r\nline two\n" + "long " * 20_000,
        link="https://example.com/a b?x=<1>",
        details=VulnerabilityDetails(
            urls=("https://example.com/advisory?id=1&x=2", "javascript:alert(1)"),
            cve_type="java",
            layer="sha256:" + "cd" * 32,
            attack_vector="network",
            exploit_poc="https://example.com/poc",
        ),
        result_id="n1",
    )
    findings = (
        base,
        replace(base, result_id="n2"),  # the console repeats itself
        replace(base, location="/opt/my app/lib:v2/file\x00 name.jar", result_id="n3"),
        replace(base, location="C:\\Program Files\\App\\x.dll", severity=Severity.HIGH, result_id="n4"),
        replace(base, location="/../../etc/%2e%2e/passwd#frag?q", severity=Severity.MEDIUM, result_id="n5"),
        replace(
            base,
            rule_id="GHSA-xxxx-yyyy-zzzz",
            component="multi\nline\tname:1",
            location="",
            severity=Severity.LOW,
            score=0.0,
            result_id="n6",
        ),
        replace(
            base,
            rule_id=NASTY_TEXT,
            component="",
            location="",
            severity=Severity.UNKNOWN,
            score=11.5,
            masked=True,
            result_id="n7",
        ),
    )
    return single(
        TargetResult(
            target=image_target(f"localhost:5000/team/app@{DIGEST}", digest=DIGEST),
            scan_id='nasty "scan" <1>',
            status="COMPLETE",
            findings=findings,
            console_counts={"critical": 3, "high": 1, "medium": 1, "low": 1, "unknown": 0},
            started_at_ms=1732752000000,
            finished_at_ms=1732752000001,
            warnings=("the console returned 2 duplicate rows", NASTY_TEXT),
        ),
        console_url="https://console.example.com/",
    )


REPOSITORIES = 25


@pytest.fixture
def many_repositories_run() -> RunResult:
    """25 repositories, one image each: repository i has one finding of a severity that falls with i.

    Repositories 0-4 have a critical finding, 5-9 high, 10-14 medium, 15-19 low, 20-24 unknown; within
    a severity the score falls with i. So at --fail-on high, repositories 0-9 fail and 0-18 are the 19
    most severe. Repository 24 is listed first, so the run's order is not the severity order.
    """
    severities = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.UNKNOWN]
    targets = []
    for i in [REPOSITORIES - 1, *range(REPOSITORIES - 1)]:
        reference = f"registry.example.com/team/service-{i:02d}:1.0"
        finding = vulnerability(
            f"CVE-2024-{2000 + i}", severities[i // 5], f"lib{i}:1.0", score=round(9.9 - (i % 5) / 10, 1),
            result_id=f"m{i}",
        )
        targets.append(TargetResult(target=image_target(reference, digest=f"sha256:{i:064x}"), scan_id=f"scan-{i}",
                                    status="COMPLETE", findings=(finding,), started_at_ms=1732752000000,
                                    finished_at_ms=1732752001000))
    return RunResult(targets=tuple(targets), console_url="https://console.example.com")
