"""Shared test fixtures: where the ground-truth files live, and a clean environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ci_scan.errors import ExitCode as ExitCode  # re-exported for tests
from ci_scan.models import Finding, ImageRef, ScanResult, ScanTarget, Severity

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CI_SCAN_SHARED_DIR", ROOT.parent / "shared")).resolve()


def shared_path(*parts: str) -> Path:
    """A file from ../shared; skips when it is absent on a developer machine, fails in CI."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared beside the checkout")
        pytest.skip(f"{path} is absent (../shared is not beside this checkout and CI is unset)")
    return path


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="session")
def contract() -> Any:
    """The spec checker (tests/contract.py), loaded once per session: the spec is 680 KB."""
    from tests.contract import SpecContract

    return SpecContract()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the CI variables of the machine that runs it."""
    for name in list(os.environ):
        if name.startswith(("CI_SCAN_", "DEEPFENCE_", "GITHUB_", "GITLAB_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sample_result() -> ScanResult:
    """A small, varied scan result shared by the report tests."""
    image = ImageRef.parse("registry.example.com/team/app:1.4.2")
    target = ScanTarget(
        node_id="3f1e" * 16,
        node_type="image",
        name=str(image),
        registry_id="docker_private_registry-registry_example_com-1",
        image=image,
    )
    findings = (
        Finding("CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2", fixed_in="3.0.14",
                cvss_score=9.8, description="Buffer overflow <in> \"openssl\" & friends",
                link="https://nvd.nist.gov/vuln/detail/CVE-2024-0001", cve_type="base",
                result_id="r1"),
        Finding("CVE-2024-0002", Severity.HIGH, "lodash:4.17.20",
                package_path="/app/node_modules/lodash/package.json", cvss_score=7.5,
                description="Prototype pollution", cve_type="javascript", result_id="r2"),
        Finding("CVE-2024-0003", Severity.MEDIUM, "zlib:1.2.11", cvss_score=5.0, result_id="r3"),
        Finding("CVE-2024-0004", Severity.LOW, "bash:5.1", cvss_score=2.0, result_id="r4"),
        Finding("GHSA-aaaa-bbbb-cccc", Severity.UNKNOWN, "left-pad:1.0.0", result_id="r5"),
        Finding("CVE-2024-0005", Severity.CRITICAL, "curl:7.68.0", cvss_score=9.1,
                suppressed=True, result_id="r6"),
        Finding("CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2",
                package_path="/usr/lib/libssl.so.3", cvss_score=9.8, result_id="r7"),
    )
    return ScanResult(
        target=target,
        scan_id=f"{target.node_id}-1732752000",
        findings=findings,
        console_url="https://console.example.com",
        console_counts={"critical": 2, "high": 1, "medium": 1, "low": 1, "unknown": 1},
        started_at_ms=1732752000000,
        finished_at_ms=1732752090000,
    )
