"""Scan results for the report tests: empty, huge, and full of hostile strings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ci_scan.models import Finding, ScanResult, Severity
from tests.formats.helpers import DIGEST, LARGE_SIZE, NASTY_TEXT, image_target


@pytest.fixture
def empty_result() -> ScanResult:
    """A clean scan of a Docker Hub image: nothing found."""
    return ScanResult(
        target=image_target("alpine:3.20"),
        scan_id="empty-scan-1",
        findings=(),
        console_url="https://console.example.com:8443",
        started_at_ms=1732752000000,
        finished_at_ms=1732752001234,
    )


@pytest.fixture(scope="session")
def large_result() -> ScanResult:
    """20,000 findings over 5,000 CVEs, every severity, some masked, most with paths."""
    severities = list(Severity)
    findings = tuple(
        Finding(
            cve_id=f"CVE-2024-{i % 5000:05d}",
            severity=severities[i % len(severities)],
            package=f"package-{i % 700}:1.{i % 13}.{i}",
            package_path=f"/usr/lib/package-{i}/lib.so" if i % 3 else "",
            fixed_in=f"1.{i % 13}.{i + 1}" if i % 2 else "",
            cvss_score=round((i % 100) / 10, 1),
            description=f"Description of finding {i}. " * 10,
            link=f"https://nvd.nist.gov/vuln/detail/CVE-2024-{i % 5000:05d}",
            cve_type="base" if i % 4 else "java",
            suppressed=i % 97 == 0,
            result_id=f"r{i}",
        )
        for i in range(LARGE_SIZE)
    )
    return ScanResult(
        target=image_target("registry.example.com/big/monolith:2024.11"),
        scan_id="large-scan-1",
        findings=findings,
        console_url="https://console.example.com",
        started_at_ms=1732752000000,
        finished_at_ms=1732752600500,
    )


@pytest.fixture
def nasty_result() -> ScanResult:
    """Hostile strings everywhere a console could put them."""
    base = Finding(
        cve_id="CVE-2024-1000",
        severity=Severity.CRITICAL,
        package="lib:evil:1.0",
        package_path="/opt/my app/lib:v2/file name.jar",
        fixed_in="1.0.1 <or> 2.0",
        cvss_score=9.9,
        description=NASTY_TEXT + "\r\nline two\n" + "long " * 20_000,
        link="https://example.com/a b?x=<1>",
        urls=("https://example.com/advisory?id=1&x=2", "javascript:alert(1)"),
        cve_type="java",
        layer="sha256:" + "cd" * 32,
        attack_vector="network",
        exploit_poc="https://example.com/poc",
        result_id="n1",
    )
    findings = (
        base,
        replace(base, result_id="n2"),  # the console repeats itself
        replace(base, package_path="/opt/my app/lib:v2/file\x00 name.jar", result_id="n3"),
        replace(base, package_path="C:\\Program Files\\App\\x.dll", severity=Severity.HIGH, result_id="n4"),
        replace(base, package_path="/../../etc/%2e%2e/passwd#frag?q", severity=Severity.MEDIUM, result_id="n5"),
        replace(
            base,
            cve_id="GHSA-xxxx-yyyy-zzzz",
            package="multi\nline\tname:1",
            package_path="",
            severity=Severity.LOW,
            cvss_score=0.0,
            result_id="n6",
        ),
        replace(
            base,
            cve_id=NASTY_TEXT,
            package="",
            package_path="",
            severity=Severity.UNKNOWN,
            cvss_score=11.5,
            suppressed=True,
            result_id="n7",
        ),
    )
    return ScanResult(
        target=image_target(f"localhost:5000/team/app@{DIGEST}"),
        scan_id='nasty "scan" <1>',
        findings=findings,
        console_url="https://console.example.com/",
        console_counts={"critical": 3, "high": 1, "medium": 1, "low": 1, "unknown": 0},
        started_at_ms=1732752000000,
        finished_at_ms=1732752000001,
        warnings=("the console returned 2 duplicate rows", NASTY_TEXT),
    )
