"""`ci-scan watch`: new nodes gated as they register, the user's command for failing ones, trouble ridden out."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from ci_scan.config import NodeScan, Settings
from ci_scan.errors import ExitCode
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator
from ci_scan.watch import WatchOptions, watch
from tests.conftest import FakeTime

Watched = tuple[ExitCode, list[dict[str, Any]], list[tuple[str, dict[str, str]]], list[str]]
"""The exit code, the JSON lines, the commands run with their environment, and the progress lines."""


def watched(sim: ConsoleSimulator, *, register_after: float, command_code: int = 0, fail_on: str = "high",
            transport: Any = None) -> Watched:
    time = FakeTime()
    registered: list[bool] = []

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if time.now >= register_after and not registered:
            sim.register_node("new-node-7")
            registered.append(True)

    commands: list[tuple[str, dict[str, str]]] = []

    def run_command(command: str, environment: dict[str, str]) -> int:
        commands.append((command, environment))
        return command_code

    settings = Settings.build(console_url="https://console.test", api_token=ADMIN_TOKEN,
                              request=NodeScan("host", ()), policy={"fail_on": fail_on}, poll_interval="1s",
                              settle_time="0s")
    out, said = io.StringIO(), list[str]()
    code = watch(settings, WatchOptions(node_types=("host",), on_fail_exec="terminate-it", duration=120, interval=5),
                 out=out, say=said.append, transport=transport or httpx.WSGITransport(app=sim), clock=time.clock,
                 sleep=sleep, run_command=run_command, install_signals=False)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], commands, said


def test_a_node_that_registers_is_gated_and_handed_to_the_command() -> None:
    sim = ConsoleSimulator()
    code, lines, commands, said = watched(sim, register_after=20)
    assert code == ExitCode.PASSED, said  # --duration ran out
    (line,) = lines
    assert (line["node_id"], line["node_type"], line["verdict"], line["exit_code"]) == ("new-node-7", "host",
                                                                                       "failed", 1)
    assert line["on_fail_exec"] == {"exit_code": 0} and line["scan_id"]
    ((command, environment),) = commands
    assert command == "terminate-it"
    assert environment["CI_SCAN_NODE_ID"] == "new-node-7" and environment["CI_SCAN_VERDICT"] == "failed"
    assert environment["CI_SCAN_NODE_TYPE"] == "host" and "CI_SCAN_INSTANCE_ID" in environment
    assert any(s.startswith("Watching for new host nodes") for s in said)


def test_the_nodes_there_at_the_start_are_not_gated_and_a_pass_runs_no_command() -> None:
    sim = ConsoleSimulator()
    code, lines, commands, _ = watched(sim, register_after=20, fail_on="critical")
    assert code == ExitCode.PASSED
    assert [line["node_id"] for line in lines] == ["new-node-7"], "build-agent-1 was there before the watch"
    assert lines[0]["verdict"] == "passed" and "on_fail_exec" not in lines[0] and commands == []


def test_a_command_that_fails_is_reported_not_retried() -> None:
    sim = ConsoleSimulator()
    _, lines, commands, said = watched(sim, register_after=20, command_code=7)
    assert len(commands) == 1 and lines[0]["on_fail_exec"] == {"exit_code": 7}
    assert any("exited 7; it is not retried" in s for s in said)


class Flaky(httpx.BaseTransport):
    """The console goes away for a few requests, then comes back (as after a restart)."""

    def __init__(self, app: ConsoleSimulator, down: range) -> None:
        self.inner, self.down, self.count = httpx.WSGITransport(app=app), down, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        if self.count in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_console_trouble_is_waited_out_and_the_watch_resumes() -> None:
    sim = ConsoleSimulator()
    code, lines, _, said = watched(sim, register_after=50, transport=Flaky(sim, range(4, 10)))
    assert code == ExitCode.PASSED
    assert any(s.startswith("Warning: ") and "trying again" in s for s in said), said
    assert [line["node_id"] for line in lines] == ["new-node-7"], "nothing lost across the outage"


class SearchFails(httpx.BaseTransport):
    """The console fails right after the delta has reported a new node: its lookup and scan go wrong."""

    def __init__(self, app: ConsoleSimulator, failures: int) -> None:
        self.inner, self.failures = httpx.WSGITransport(app=app), failures

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search/hosts") and self.failures > 0:
            self.failures -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_a_node_reported_just_before_trouble_is_gated_once_the_console_is_back() -> None:
    sim = ConsoleSimulator()
    code, lines, commands, said = watched(sim, register_after=20, transport=SearchFails(sim, failures=6))
    assert code == ExitCode.PASSED
    assert any("trying again" in s for s in said), said
    assert [line["node_id"] for line in lines] == ["new-node-7"], "the cursor moved on, the node stayed pending"
    assert len(commands) == 1, "gated once"


def test_the_command_never_gets_the_token_and_never_writes_into_the_json_lines(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    from ci_scan.watch import _run_command

    monkeypatch.setenv("DEEPFENCE_API_TOKEN", "secret-token-value")
    code = _run_command('echo "node=$CI_SCAN_NODE_ID token=${DEEPFENCE_API_TOKEN:-none}"; exit 3',
                        {"CI_SCAN_NODE_ID": "new-node-7"})
    captured = capfd.readouterr()
    assert code == 3 and captured.out == ""
    assert "node=new-node-7 token=none" in captured.err
