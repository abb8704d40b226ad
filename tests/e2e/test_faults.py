"""Fault injection: the installed `ci-scan` against `ci-scan simulator serve --fault ...` over loopback.

Each case asserts the exit code, what the run said, the requests it made (from the simulator's request
log), the wall time against --timeout, that the reports were written, and that no token leaked. The
table in docs/reliability.md is this file's, case for case (a test holds them together).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_scan.simulator import ADMIN_TOKEN
from tests.conftest import ROOT
from tests.e2e.conftest import Run, Simulator, free_port, running_simulator

pytestmark = pytest.mark.e2e

REG = "registry.example.com/team"
STATUS = "/deepfence/scan/status/vulnerability"
RESULTS = "/deepfence/scan/results/vulnerability"
STOP = "/deepfence/scan/stop/vulnerability"
AUTH = "/deepfence/auth/token"
MARGIN = 7.5
"""Seconds past --timeout a run may take: starting Python (about 1 s here), stopping its scans (5 s at
most, shared by every scan kind), the reports."""
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+")

Log = list[dict[str, object]]


def count(log: Log, path: str, status: int | None = None, fault: str | None = None) -> int:
    return sum(1 for line in log if line["path"] == path and (status is None or line["status"] == status)
               and (fault is None or line["fault"] == fault))


@dataclass(frozen=True)
class Case:
    name: str
    """Its row in docs/reliability.md."""
    faults: tuple[str, ...]
    image: str
    code: int
    says: str
    """A fragment of standard error (a regular expression)."""
    requests: Callable[[Log], bool]
    """What the request log must show."""
    timeout: float = 20.0
    args: tuple[str, ...] = ()
    serve: tuple[str, ...] = ()
    verdict: str | None = None
    """The JSON report's verdict; None: the run ended before any target, so the report has no targets."""
    env: tuple[tuple[str, str], ...] = ()
    never_says: str = "Traceback"
    """What must not be in the output either (a regular expression): a pasted page, a token's name."""


CASES = (
    Case("5xx on status checks, 3 times", (f"{STATUS}=http:503,times=3",), f"{REG}/clean:1.0", 0,
         "Gate PASSED", lambda log: count(log, STATUS, 503) == 3, verdict="passed"),
    Case("5xx on the token exchange, always", (f"{AUTH}=http:503,always",), f"{REG}/clean:1.0", 3,
         r"could not .*HTTP 503", lambda log: count(log, AUTH) == 5, never_says="refused the API token"),
    Case("409 (a database deadlock) on the start", ("/deepfence/scan/start/vulnerability=http:409",),
         f"{REG}/clean:1.0", 0, "Gate PASSED",
         lambda log: count(log, "/deepfence/scan/start/vulnerability") == 2, verdict="passed"),
    Case("500 on the start", ("/deepfence/scan/start/vulnerability=http:500",), f"{REG}/clean:1.0", 3,
         r"HTTP 500", lambda log: count(log, "/deepfence/scan/start/vulnerability") == 1),
    Case("429 with Retry-After: 2 on a status check", (f"{STATUS}=retry-after:2",), f"{REG}/clean:1.0", 0,
         "Gate PASSED", lambda log: _gap_after(log, STATUS, 429) >= 1.9, verdict="passed"),
    Case("429 with Retry-After: 100000 on results", (f"{RESULTS}=retry-after:100000,always",), f"{REG}/app:1.4.2",
         3, r"busy \(HTTP 429\).*come back in 100000s", lambda log: count(log, RESULTS, 429) == 1,
         timeout=15, verdict="incomplete"),
    Case("connection reset on the token exchange, twice", (f"{AUTH}=reset,times=2",), f"{REG}/clean:1.0", 0,
         "Gate PASSED", lambda log: count(log, AUTH) == 3, verdict="passed"),
    Case("connection reset on every status check", (f"{STATUS}=reset,always",), f"{REG}/clean:1.0", 4,
         "timed out", lambda log: count(log, STATUS) >= 3, timeout=10, verdict="timed_out"),
    Case("results trickled one byte every 2 s", (f"{RESULTS}=trickle:2,always",), f"{REG}/app:1.4.2", 4,
         "timed out", lambda log: count(log, RESULTS) >= 1, timeout=10, verdict="timed_out"),
    Case("3 s latency on status checks", (f"{STATUS}=latency:3,times=2",), f"{REG}/clean:1.0", 0, "Gate PASSED",
         lambda log: count(log, STATUS, fault="latency:3") == 2, verdict="passed"),
    Case("a 200 MiB results page", (f"{RESULTS}=oversized:200,always",), f"{REG}/app:1.4.2", 3, "over 64 MiB",
         lambda log: count(log, RESULTS) == 1, verdict="incomplete"),
    Case("a gzip bomb as results", (f"{RESULTS}=gzip-bomb:100,always",), f"{REG}/app:1.4.2", 3, "over 64 MiB",
         lambda log: count(log, RESULTS) == 1, verdict="incomplete"),
    Case("a status reply that is not JSON", (f"{STATUS}=malformed,always",), f"{REG}/clean:1.0", 3, "not JSON",
         lambda log: count(log, STATUS) == 1, verdict="incomplete"),
    Case("a proxy's HTML 502 page on the token exchange", (f"{AUTH}=html:502,always",), f"{REG}/clean:1.0", 3,
         r"\(or a proxy in front of it\) answered HTTP 502 with an HTML page", lambda log: count(log, AUTH) == 5,
         never_says=r"(?i)<html|<body|nginx|refused the API token"),
    Case("access tokens that expire after 3 requests", (), f"{REG}/app:1.4.2", 1, "Gate FAILED",
         lambda log: count(log, "/deepfence/auth/token/refresh") >= 2, serve=("--access-token-uses", "3"),
         verdict="failed"),
    Case("a status the console does not define", (), f"{REG}/queued-remote:1.0", 0,
         "reports 'QUEUED_REMOTE', a status the console does not define", lambda log: count(log, STATUS) >= 4,
         serve=("--fault-images",), verdict="passed"),
    Case("a status that goes back (IN_PROGRESS, then STARTING)", (), f"{REG}/flaky:1.0", 0, "Gate PASSED",
         lambda log: count(log, STATUS) >= 5, verdict="passed"),
    Case("a scan stuck IN_PROGRESS", (), f"{REG}/stuck:1.0", 4,
         r"asked the console to stop|Stopping scan", lambda log: count(log, STOP) == 1, timeout=6,
         verdict="timed_out"),
    Case("a scan stuck IN_PROGRESS, --no-cancel", (), f"{REG}/stuck:1.0", 4, "timed out",
         lambda log: count(log, STOP) == 0, timeout=6, args=("--no-cancel",), verdict="timed_out"),
    Case("a scan that ends ERROR", (), f"{REG}/broken:1.0", 3, "ended ERROR", lambda log: count(log, STOP) == 0,
         verdict="incomplete"),
    Case("a scan that ends ERROR, --on-error pass", (), f"{REG}/broken:1.0", 0, "NO VERDICT",
         lambda log: count(log, STATUS) >= 1, args=("--on-error", "pass"), verdict="incomplete"),
    Case("--poll-interval 0.0001s against a stuck scan", (), f"{REG}/stuck:1.0", 4, "below the floor of 1s",
         lambda log: count(log, STATUS) <= 6, timeout=5, args=("--poll-interval", "0.0001s"),
         env=(("CI_SCAN_SIMULATOR_POLL_FLOOR", ""),), verdict="timed_out"),
)


def log_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if '"/deepfence/ping"' not in line]


def _gap_after(log: Log, path: str, status: int) -> float:
    """Seconds between the first answer `status` on `path` and the next request to `path`."""
    times = [(float(str(line["time"])), line["status"]) for line in log if line["path"] == path]
    for (when, answered), (after, _) in zip(times, times[1:], strict=False):
        if answered == status:
            return after - when
    return 0.0


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_fault_ends_as_documented(case: Case, tmp_path: Path) -> None:
    log_path = tmp_path / "requests.jsonl"
    options = [arg for fault in case.faults for arg in ("--fault", fault)]
    with running_simulator(*options, *case.serve, "--request-log", str(log_path)) as sim:
        started = time.monotonic()
        run = sim.run("scan", "image", case.image, "--timeout", f"{case.timeout:g}s", "--json", "report.json",
                      "--junit", "report.xml", *case.args, env=dict(case.env), cwd=tmp_path,
                      timeout=case.timeout + 60)
        took = time.monotonic() - started
    print(f"\nfault case {case.name!r}: exit {run.code} in {took:.1f}s, {len(log_lines(log_path))} requests")
    log: Log = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert run.code == case.code, run.output
    assert re.search(case.says, run.output), run.output
    assert not re.search(case.never_says, run.output), run.output
    assert case.requests(log), [(line["path"], line["status"], line["fault"]) for line in log]
    assert took <= case.timeout + MARGIN, f"took {took:.1f}s with --timeout {case.timeout:g}s"
    report = json.loads((tmp_path / "report.json").read_text())
    assert (tmp_path / "report.xml").is_file()
    if case.verdict is not None:
        assert [t["verdict"] for t in report["targets"]] == [case.verdict]
    assert report["gate"]["exit_code"] == case.code
    assert_nothing_leaked(run, tmp_path)


def assert_nothing_leaked(run: Run, directory: Path) -> None:
    """No traceback, and neither the API token nor an access or refresh token, anywhere the run wrote."""
    texts = [run.stdout, run.stderr, *(p.read_text(errors="replace") for p in directory.iterdir() if p.is_file()
                                       and p.name != "requests.jsonl")]
    for text in texts:
        assert "Traceback" not in text
        assert ADMIN_TOKEN not in text and not JWT.search(text)


def test_on_error_pass_lets_an_unreachable_console_through_loudly(tmp_path: Path, simulator: Simulator) -> None:
    closed = Simulator(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    failing = closed.run("scan", "image", f"{REG}/clean:1.0", "--timeout", "10s", "--json", "r.json", cwd=tmp_path)
    assert failing.code == 3, failing.output
    passing = closed.run("scan", "image", f"{REG}/clean:1.0", "--timeout", "10s", "--json", "r.json",
                         "--on-error", "pass", cwd=tmp_path)
    assert passing.code == 0, passing.output
    assert "NO VERDICT" in passing.output and "cannot reach the console" in passing.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["gate"]["verdict"] == "incomplete" and report["gate"]["passed"] is False
    assert report["gate"]["exit_code"] == 0 and report["gate"]["on_error"] == "pass"
    assert report["warnings"][0].startswith("NO VERDICT")
    # A failed gate is never passed over.
    failed = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--on-error", "pass")
    assert failed.code == 1, failed.output


def test_a_refused_token_is_never_passed_over(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/clean:1.0", "--on-error", "pass", token="ZGVmYXVsdDpub3BlCg")
    assert run.code == 3 and "refused the API token" in run.stderr, run.output


def test_debug_logs_each_request_without_tokens(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/clean:1.0", "--debug")
    assert run.code == 0, run.output
    lines = [line for line in run.stderr.splitlines() if line.startswith("debug: ")]
    assert lines[0].startswith(f"debug: POST {AUTH} -> 200 in ")
    assert any(line.startswith(f"debug: POST {STATUS} -> 200 in ") for line in lines)
    assert ADMIN_TOKEN not in run.output and not JWT.search(run.output)


def test_plain_http_to_another_machine_is_refused_before_any_request(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/clean:1.0", env={"DEEPFENCE_CONSOLE_URL": "http://192.0.2.1:8080"})
    assert run.code == 2, run.output
    assert "plain http:// on another machine" in run.stderr and "--allow-insecure-http" in run.stderr


def test_the_reliability_table_lists_every_case() -> None:
    table = (ROOT / "docs" / "reliability.md").read_text()
    rows = re.findall(r"^\| ([^|]+?) \| `(\d+)` \|", table, flags=re.MULTILINE)
    assert [(name, int(code)) for name, code in rows] == [(case.name, case.code) for case in CASES]
