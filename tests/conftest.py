"""Shared test fixtures: where the ground-truth files live, and a clean environment."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ci_scan.errors import ExitCode as ExitCode  # re-exported for tests
from ci_scan.models import Finding, ImageRef, RunResult, Severity, Target, TargetResult, VulnerabilityDetails

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
        if name.startswith(("CI_", "DEEPFENCE_", "GITHUB_", "GITLAB_", "RUNNER_")) or name in _OTHER_CI:
            monkeypatch.delenv(name, raising=False)


_OTHER_CI = ("JENKINS_URL", "WORKSPACE", "TF_BUILD", "BUILD_SOURCESDIRECTORY", "FORCE_COLOR", "NO_COLOR")
"""`CI` itself stays: `shared_path` reads it to fail rather than skip in CI."""


def _vulnerability(
    rule_id: str, severity: Severity, component: str, *, cve_type: str = "", **fields: Any
) -> Finding:
    return Finding("vulnerability", rule_id, severity, component, details=VulnerabilityDetails(cve_type=cve_type),
                   **fields)


def _image(reference: str, node_id: str, digest: str | None = None) -> Target:
    image = ImageRef.parse(reference)
    return Target(kind="image", node_id=node_id, node_type="image", name=str(image), image=image,
                  registry_id="docker_private_registry-registry_example_com-1", digest=digest)


def _sample_target() -> TargetResult:
    target = _image("registry.example.com/team/app:1.4.2", "3f1e" * 16)
    findings = (
        _vulnerability("CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2", fixed_in="3.0.14",
                       score=9.8, description="Buffer overflow <in> \"openssl\" & friends",
                       link="https://nvd.nist.gov/vuln/detail/CVE-2024-0001", cve_type="base",
                       result_id="r1"),
        _vulnerability("CVE-2024-0002", Severity.HIGH, "lodash:4.17.20",
                       location="/app/node_modules/lodash/package.json", score=7.5,
                       description="Prototype pollution", cve_type="javascript", result_id="r2"),
        _vulnerability("CVE-2024-0003", Severity.MEDIUM, "zlib:1.2.11", score=5.0, result_id="r3"),
        _vulnerability("CVE-2024-0004", Severity.LOW, "bash:5.1", score=2.0, result_id="r4"),
        _vulnerability("GHSA-aaaa-bbbb-cccc", Severity.UNKNOWN, "left-pad:1.0.0", result_id="r5"),
        _vulnerability("CVE-2024-0005", Severity.CRITICAL, "curl:7.68.0", score=9.1,
                       masked=True, result_id="r6"),
        _vulnerability("CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2",
                       location="/usr/lib/libssl.so.3", score=9.8, result_id="r7"),
    )
    return TargetResult(
        target=target,
        scan_id=f"{target.node_id}-1732752000",
        status="COMPLETE",
        findings=findings,
        console_counts={"critical": 2, "high": 1, "medium": 1, "low": 1, "unknown": 1},
        started_at_ms=1732752000000,
        finished_at_ms=1732752090000,
    )


@pytest.fixture
def sample_run() -> RunResult:
    """One image, a small and varied scan result, shared by the report tests."""
    return RunResult(targets=(_sample_target(),), console_url="https://console.example.com")


@pytest.fixture
def multi_run() -> RunResult:
    """Five targets over three repositories, at --fail-on high:

    - registry.example.com/team/app:1.4.2, the sample: fails (3 findings at or above high);
    - registry.example.com/team/app:1.5.0, another tag of that repository: passes (medium, low);
    - quay.io/acme/api:2.0, a second repository: fails (1 high);
    - registry.example.com/team/worker:3.1: could not be completed (the console's scan errored);
    - quay.io/acme/api:2.1: timed out, still running.
    """
    sample = _sample_target()
    app_142 = replace(sample, target=replace(sample.target, digest="sha256:" + "1" * 64))
    app_150 = TargetResult(
        target=_image("registry.example.com/team/app:1.5.0", "app150", "sha256:" + "2" * 64),
        scan_id="app150-scan",
        status="COMPLETE",
        findings=(
            _vulnerability("CVE-2024-0003", Severity.MEDIUM, "zlib:1.2.11", score=5.0, result_id="b3"),
            _vulnerability("CVE-2024-0004", Severity.LOW, "bash:5.1", score=2.0, result_id="b4"),
        ),
        console_counts={"medium": 1, "low": 1},
        started_at_ms=1732752100000,
        finished_at_ms=1732752130000,
        notes=("reused a scan of this digest that finished 5 minutes earlier",),
    )
    api_20 = TargetResult(
        target=_image("quay.io/acme/api:2.0", "api20", "sha256:" + "3" * 64),
        scan_id="api20-scan",
        status="COMPLETE",
        findings=(
            _vulnerability("CVE-2024-0100", Severity.HIGH, "requests:2.25.0",
                           location="/usr/lib/python3/site-packages/requests", score=7.5, fixed_in="2.31.0",
                           result_id="c1"),
            _vulnerability("CVE-2024-0101", Severity.LOW, "urllib3:1.26.0", score=3.1, result_id="c2"),
        ),
        console_counts={"high": 1, "low": 1},
        started_at_ms=1732752000000,
        finished_at_ms=1732752200000,
        warnings=("the console returned 1 duplicate row",),
    )
    worker = TargetResult(
        target=_image("registry.example.com/team/worker:3.1", "worker31"),
        scan_id="worker31-scan",
        status="ERROR",
        started_at_ms=1732752000000,
        finished_at_ms=1732752010000,
        error="the console reported ERROR: failed to pull registry.example.com/team/worker:3.1: manifest unknown",
    )
    api_21 = TargetResult(
        target=_image("quay.io/acme/api:2.1", "api21", "sha256:" + "4" * 64),
        scan_id="api21-scan",
        status="IN_PROGRESS",
        started_at_ms=1732752000000,
        timed_out=True,
    )
    return RunResult(
        targets=(app_142, app_150, api_20, worker, api_21),
        console_url="https://console.example.com",
        warnings=("the console did not report its version",),
    )


# -- no token in anything the suite wrote -------------------------------------------------------------

_JWT = re.compile(rb"eyJ[\w-]{8,}\.eyJ[\w-]{8,}")
"""The shape of the access and refresh tokens the simulator (like the console) hands out."""


def token_leaks(data: bytes) -> list[str]:
    """Which of the simulator's API keys, or an access or refresh token, `data` holds."""
    from ci_scan.simulator import ADMIN_TOKEN, READONLY_TOKEN, STANDARD_TOKEN

    found = [name for name, token in (("the admin API key", ADMIN_TOKEN), ("the standard API key", STANDARD_TOKEN),
                                       ("the read-only API key", READONLY_TOKEN)) if token.encode() in data]
    return found + (["an access or refresh token"] if _JWT.search(data) else [])


_CAPTURED_LEAKS: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Whatever a test let through to standard output or error, or logged, is grepped for tokens too."""
    for name, text in report.sections:
        _CAPTURED_LEAKS.extend(f"{report.nodeid} ({name}): {what}" for what in token_leaks(text.encode()))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Grep every file the whole suite wrote (reports, GitHub outputs, job summaries, logs) for a token:
    one there fails the session, naming the file."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or exitstatus not in (0, 1):
        return
    try:
        base = factory.getbasetemp()
    except (OSError, ValueError):
        return
    if leaks := list(dict.fromkeys([*_CAPTURED_LEAKS, *files_with_tokens(base)])):
        print("\nTokens found in what the tests wrote:\n  " + "\n  ".join(leaks[:20]))
        session.exitstatus = 1


def files_with_tokens(base: Path) -> list[str]:
    """`<path>: <which token>` for each file under `base` holding one (virtual environments aside)."""
    leaks = []
    for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.is_symlink()):
        if path.name in _TOKEN_FILES or any("venv" in part or part == "site-packages" for part in path.parts):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        leaks += [f"{path}: {what}" for what in token_leaks(data)]
    return leaks


_TOKEN_FILES = frozenset({"token", "api-token", "environment"})
"""Files tests write the token into on purpose, as a user hands it to ci-scan."""
