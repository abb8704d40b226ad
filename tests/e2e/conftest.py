"""End-to-end: the installed `ci-scan` command against `ci-scan simulator serve` over real HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ci_scan.simulator import ADMIN_TOKEN
from tests.conftest import token_leaks


def ci_scan_command() -> str:
    """The console script installed beside this interpreter (what a user runs)."""
    found = Path(sys.executable).with_name("ci-scan")
    if found.exists():
        return str(found)
    path = shutil.which("ci-scan")
    if path is None:
        pytest.fail("the ci-scan command is not installed: run `pip install -e .` first")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Simulator:
    url: str

    def run(self, *args: str, env: dict[str, str] | None = None, token: str | None = ADMIN_TOKEN,
            cwd: Path | None = None, timeout: float = 120) -> Run:
        done = subprocess.run([ci_scan_command(), *args], capture_output=True, text=True,
                              env=self.environment(env, token), cwd=cwd, timeout=timeout, check=False)
        leaked = token_leaks((done.stdout + done.stderr).encode())
        assert not leaked, f"ci-scan {' '.join(args)} printed {', '.join(leaked)}"  # every run, every test
        return Run(done.returncode, done.stdout, done.stderr)

    def environment(self, env: dict[str, str] | None = None, token: str | None = ADMIN_TOKEN) -> dict[str, str]:
        """The environment of a ci-scan run against this simulator, `env` on top."""
        # As on a developer's machine, whatever CI runs the tests: a test that wants a CI sets it in `env`.
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("CI_", "DEEPFENCE_", "GITHUB_", "GITLAB_", "RUNNER_"))
                   and k not in ("CI", "JENKINS_URL", "WORKSPACE", "TF_BUILD", "BUILD_SOURCESDIRECTORY",
                                 "FORCE_COLOR", "NO_COLOR")}
        environ["DEEPFENCE_CONSOLE_URL"] = self.url
        if token is not None:
            environ["DEEPFENCE_API_TOKEN"] = token
        environ["CI_SCAN_POLL_INTERVAL"] = "0.1s"
        environ["CI_SCAN_SIMULATOR_POLL_FLOOR"] = "0.05"  # the simulator moves a step per poll, not per second
        environ["CI_SCAN_SETTLE_TIME"] = "0.3s"  # the simulator lands findings in one go; keep the suite quick
        environ.update(env or {})
        return environ


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    """One simulator for the session: tests must not depend on state others change (sync, scans)."""
    with running_simulator() as sim:
        yield sim


@pytest.fixture
def fresh_simulator() -> Iterator[Simulator]:
    """A simulator of one's own, for tests that need the console's initial state."""
    with running_simulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def scaled_simulator() -> Iterator[Simulator]:
    """A simulator whose `bulk-registry` holds 500 images, for registry-wide and many-image runs."""
    with running_simulator("--images", "500") as sim:
        yield sim


@contextmanager
def running_simulator(*options: str) -> Iterator[Simulator]:
    port = free_port()
    process = subprocess.Popen([ci_scan_command(), "simulator", "serve", "--port", str(port), *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/deepfence/ping", timeout=1).text == "pong":
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the simulator did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.1)
        yield Simulator(url)
    finally:
        process.terminate()
        process.communicate(timeout=10)
