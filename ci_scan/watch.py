"""`ci-scan watch`: gate new hosts and containers as they register, and hand failing ones to the user's command.

The console has no push API for new nodes (API_NOTES §3.4); its topology delta is polled instead. The
first call learns the cursor (nodes already there are not gated); each later call returns the nodes that
became active since, and its timestamps are sent back as the next cursor. Each new node is scanned with
the run's scan types and policy, and one JSON line per node decided goes to standard output.

For a node that fails the gate, `--on-fail-exec CMD` runs `CMD` with `sh -c`, the node's facts only in
its environment (CI_SCAN_NODE_ID, CI_SCAN_NODE_NAME, CI_SCAN_NODE_TYPE, CI_SCAN_VERDICT,
CI_SCAN_INSTANCE_ID, CI_SCAN_CLOUD_PROVIDER), never in the command's text. A command that fails is
reported, never retried. ci-scan itself never deletes anything.

Console trouble while polling (a restart, an outage) is reported and waited out: the client signs in
again and the watch resumes from its cursor. SIGTERM and SIGINT stop it between polls (exit 143 / 130);
`--duration` ends it with exit 0.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ci_scan.app import open_client
from ci_scan.config import Settings
from ci_scan.decision import decide
from ci_scan.errors import AuthError, CiScanError, ConfigError, ExitCode, TargetNotFound, redact
from ci_scan.scan import STOP_GRACE, Scanner, merge_kinds
from ci_scan.wire import AgentNode

if TYPE_CHECKING:
    from ci_scan.client import ConsoleClient

ENTITY_TYPES = {"host": "Node", "container": "Container"}
"""The Neo4j labels the topology delta takes for each node type (API_NOTES §3.4)."""
COMMAND_TIMEOUT = 300.0
TROUBLE_PAUSE = 30.0
"""Seconds to wait after console trouble before polling again."""


@dataclass(frozen=True)
class WatchOptions:
    node_types: tuple[str, ...] = ("host",)
    on_fail_exec: str = ""
    duration: float | None = None
    """Seconds to watch for; None: until stopped."""
    interval: float = 15.0
    """Seconds between topology polls."""
    agent_wait: float = 300.0
    """How long a new host may take to start its agent before it is gated as unscannable."""


class _Stopped(Exception):
    """A signal arrived while a node's scan was being waited for."""


class _Stop:
    """Set by SIGTERM or SIGINT: the watch ends at its next pause, also in the middle of waiting for a scan."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, number: int, frame: FrameType | None) -> None:
        self.signal = number

    def sleeper(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """`sleep` in steps of at most a second, raising _Stopped once a signal has arrived."""

        def interruptible(seconds: float) -> None:
            while seconds > 0:
                if self.signal is not None:
                    raise _Stopped
                sleep(min(1.0, seconds))
                seconds -= 1.0
            if self.signal is not None:
                raise _Stopped

        return interruptible


def watch(settings: Settings, options: WatchOptions, *, out: TextIO, say: Callable[[str], None],
          transport: Any = None, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep,
          run_command: Callable[[str, dict[str, str]], int] | None = None,
          install_signals: bool = True) -> ExitCode:
    stop = _Stop()
    if install_signals:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    execute = run_command or _run_command
    sleep = stop.sleeper(sleep)
    end = clock() + options.duration if options.duration is not None else None
    entity_types = [ENTITY_TYPES[t] for t in options.node_types]
    for notice in settings.notices:
        say(notice)
    with open_client(settings, say, transport=transport, sleep=sleep) as client:
        cursor: tuple[int, int] | None = None
        signed_in = False
        pending: dict[str, list[str]] = {t: [] for t in options.node_types}
        """New nodes not decided yet: kept across console trouble until each has its line."""
        decided: set[str] = set()
        while stop.signal is None and (end is None or clock() < end):
            try:
                if not signed_in:  # at the start, and again after trouble (a restarted console forgets tokens)
                    client.authenticate()  # a token refused from the start ends the watch (below)
                    signed_in = True
                if cursor is None:  # learn where the console's clock is: nodes already there are not gated
                    first = client.topology_delta((0, 0), entity_types)
                    cursor = (first.addition_timestamp, first.deletion_timestamp)
                    say(f"Watching for new {', '.join(options.node_types)} nodes")
                else:
                    delta = client.topology_delta(cursor, entity_types)
                    cursor = (delta.addition_timestamp, delta.deletion_timestamp)
                    for node_id, node_type in delta.additions:
                        if node_type in pending and node_id not in decided and node_id not in pending[node_type]:
                            pending[node_type].append(node_id)
                for node_type, node_ids in pending.items():
                    if node_ids:
                        _gate(client, settings, options, node_type, list(node_ids), out, say, execute, clock, sleep)
                        decided.update(node_ids)
                        node_ids.clear()
            except _Stopped:
                break
            except AuthError as exc:
                if cursor is None:
                    say(f"ci-scan: error: {redact(exc.one_line(), [settings.api_token])}")
                    return exc.exit_code
                signed_in = False
                say(f"Warning: {redact(exc.one_line(), [settings.api_token])}; trying again in {TROUBLE_PAUSE:g}s")
                if _waited_out(TROUBLE_PAUSE, stop, end, clock, sleep):
                    break
                continue
            except CiScanError as exc:
                signed_in = False
                say(f"Warning: {redact(exc.one_line(), [settings.api_token])}; trying again in {TROUBLE_PAUSE:g}s")
                if _waited_out(TROUBLE_PAUSE, stop, end, clock, sleep):
                    break
                continue
            if _waited_out(options.interval, stop, end, clock, sleep):
                break
    if stop.signal is not None:
        say("Stopped")
        return ExitCode.INTERRUPTED if stop.signal == signal.SIGINT else ExitCode.TERMINATED
    return ExitCode.PASSED


def _waited_out(seconds: float, stop: _Stop, end: float | None, clock: Callable[[], float],
                sleep: Callable[[float], None]) -> bool:
    """Pause; True when a signal arrived meanwhile."""
    try:
        _pause(seconds, stop, end, clock, sleep)
    except _Stopped:
        return True
    return False


def _pause(seconds: float, stop: _Stop, end: float | None, clock: Callable[[], float],
           sleep: Callable[[float], None]) -> None:
    """Sleep in short steps, so that a signal or the end of --duration is noticed within a second."""
    until = clock() + seconds
    while stop.signal is None and clock() < until and (end is None or clock() < end):
        sleep(min(1.0, until - clock()))


def _gate(client: ConsoleClient, settings: Settings, options: WatchOptions, node_type: str, node_ids: list[str],
          out: TextIO, say: Callable[[str], None], execute: Callable[[str, dict[str, str]], int],
          clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    """Scan the new nodes of one type together, then decide and report each. Console trouble propagates
    (the nodes stay pending); a node the console no longer knows, or a stop signal, gets its line here."""
    known = {n.node_id: n for n in client.search_nodes(node_type, {"node_id": node_ids})}
    scanners = [Scanner(client, replace(settings.scan, kind=kind), say, clock=clock, sleep=sleep)
                for kind in settings.scan.kinds]
    wait = options.agent_wait if node_type == "host" else None
    started: list[tuple[Scanner, list[Any]]] = []
    try:
        started = [(s, s.start_nodes(node_type, node_ids, wait_for=wait)) for s in scanners]
        result = merge_kinds([s.finish(scans) for s, scans in started])
    except _Stopped:
        until = clock() + STOP_GRACE
        for scanner, scans in started:  # best effort: the scans this watch started, not those it joined
            scanner.stop_started(scans, until)
        _no_verdict(out, node_type, node_ids, known, "interrupted", ExitCode.TERMINATED,
                    "the watch was stopped while this node was scanned; its scans were stopped")
        raise
    except (TargetNotFound, ConfigError) as exc:  # gone before it could be scanned: it gets no verdict
        _no_verdict(out, node_type, node_ids, known, "incomplete", exc.exit_code,
                    redact(exc.one_line(), [settings.api_token]))
        return
    decision = decide(result, settings.policy, today=dt.datetime.now(dt.timezone.utc).date())
    for target in decision.targets:
        node_id = target.result.target.node_id
        node = known.get(node_id)
        line = _line(node_id, target.result.target.name, node_type, node, verdict=target.verdict,
                     code=target.exit_code, reason=target.reason, scan_id=target.result.scan_id,
                     failing=len(target.failing))
        if target.verdict == "failed" and options.on_fail_exec:
            line["on_fail_exec"] = _hand_over(options.on_fail_exec, line, node, execute, say)
        _write(out, line)


def _line(node_id: str, name: str, node_type: str, node: AgentNode | None, *, verdict: str, code: ExitCode,
          reason: str, scan_id: str = "", failing: int = 0) -> dict[str, object]:
    """One node's JSON line: the keys every line has, in order."""
    return {"node_id": node_id, "name": name, "node_type": node_type, "verdict": verdict, "exit_code": int(code),
            "reason": reason, "instance_id": node.instance_id if node else "",
            "cloud_provider": node.cloud_provider if node else "", "scan_id": scan_id, "failing": failing}


def _write(out: TextIO, line: dict[str, object]) -> None:
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


def _no_verdict(out: TextIO, node_type: str, node_ids: Sequence[str], known: dict[str, AgentNode], verdict: str,
                code: ExitCode, reason: str) -> None:
    for node_id in node_ids:
        node = known.get(node_id)
        _write(out, _line(node_id, node.name if node else node_id, node_type, node, verdict=verdict, code=code,
                          reason=reason))


def _hand_over(command: str, line: dict[str, object], node: AgentNode | None,
               execute: Callable[[str, dict[str, str]], int], say: Callable[[str], None]) -> dict[str, object]:
    environment = {
        "CI_SCAN_NODE_ID": str(line["node_id"]),
        "CI_SCAN_NODE_NAME": str(line["name"]),
        "CI_SCAN_NODE_TYPE": str(line["node_type"]),
        "CI_SCAN_VERDICT": str(line["verdict"]),
        "CI_SCAN_INSTANCE_ID": node.instance_id if node else "",
        "CI_SCAN_CLOUD_PROVIDER": node.cloud_provider if node else "",
    }
    try:
        code = execute(command, environment)
    except (OSError, subprocess.TimeoutExpired) as exc:
        say(f"Warning: --on-fail-exec for {line['name']} could not run: {exc}")
        return {"exit_code": None, "error": str(exc)}
    if code != 0:
        say(f"Warning: --on-fail-exec for {line['name']} exited {code}; it is not retried")
    return {"exit_code": code}


def _run_command(command: str, environment: dict[str, str]) -> int:
    """The user's command, its output on standard error (standard output is the JSON lines), without the API
    token in its environment."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("DEEPFENCE_API_TOKEN", "CI_SCAN_API_TOKEN")}
    done = subprocess.run(["/bin/sh", "-c", command], env={**inherited, **environment}, timeout=COMMAND_TIMEOUT,
                          stdout=2, stdin=subprocess.DEVNULL, check=False)  # fd 2: standard error
    return done.returncode


def node_types(text: str) -> tuple[str, ...]:
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [t for t in chosen if t not in ENTITY_TYPES]
    if unknown or not chosen:
        from ci_scan.errors import ConfigError

        raise ConfigError(f"unknown --node-type {', '.join(unknown) or '(none given)'}; choose from host, container")
    return tuple(dict.fromkeys(chosen))


__all__: Sequence[str] = ("WatchOptions", "watch", "node_types")
