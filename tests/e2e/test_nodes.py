"""Hosts and containers as a pipeline meets them: scan by name, agents not running, the inventory, the sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Simulator

pytestmark = pytest.mark.e2e


def test_a_host_and_a_container_are_gated_like_images(simulator: Simulator, tmp_path: Path) -> None:
    host = simulator.run("scan", "host", "build-agent-1", "--json", "h.json", cwd=tmp_path)
    assert host.code == 1, host.output  # it has a critical vulnerability
    (target,) = json.loads((tmp_path / "h.json").read_text())["targets"]
    assert (target["target"]["kind"], target["target"]["node_type"], target["verdict"]) == ("host", "host", "failed")
    clean = simulator.run("scan", "host", "web-prod-1", cwd=tmp_path)
    assert clean.code == 0, clean.output
    container = simulator.run("scan", "container", "nginx-frontend", "--json", "c.json", cwd=tmp_path)
    assert container.code == 1, container.output
    (entry,) = json.loads((tmp_path / "c.json").read_text())["targets"]
    assert entry["target"]["kind"] == "container" and entry["findings"]


def test_a_host_whose_agent_is_not_running_is_said_so(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "host", "legacy-box", "--json", "l.json", cwd=tmp_path)
    assert run.code == 3, run.output
    (target,) = json.loads((tmp_path / "l.json").read_text())["targets"]
    assert "agent is not running" in target["error"]


def test_an_unknown_host_is_exit_3_naming_the_inventory_command(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "host", "no-such-host", cwd=tmp_path)
    assert run.code == 3 and "ci-scan nodes list --type host" in run.stderr, run.output


def test_the_inventory_lists_every_type(simulator: Simulator) -> None:
    hosts = json.loads(simulator.run("nodes", "list", "--type", "host", "--json").stdout)
    by_name = {h["name"]: h for h in hosts}
    assert by_name["legacy-box"]["agent_running"] is False and by_name["build-agent-1"]["agent_running"] is True
    containers = simulator.run("nodes", "list", "--type", "container")
    assert containers.code == 0 and "nginx-frontend" in containers.stdout and containers.stdout.endswith("found\n")
    registries = json.loads(simulator.run("registries", "list", "--json").stdout)
    assert "example-registry" in {r["name"] for r in registries}
    images = json.loads(simulator.run("nodes", "list", "--type", "image", "--json").stdout)
    assert any(i["repository"] == "team/app" and "1.4.2" in i["tags"] for i in images)


def test_the_sweep_gates_every_host_and_container_with_one_verdict(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "all", "--type", "host,container", "--json", "sweep.json", cwd=tmp_path)
    report = json.loads((tmp_path / "sweep.json").read_text())
    kinds = {t["target"]["kind"] for t in report["targets"]}
    assert kinds == {"host", "container"}, report["targets"]
    names = {t["target"]["name"]: t["verdict"] for t in report["targets"]}
    assert names["legacy-box"] == "incomplete" and names["build-agent-1"] == "failed"
    assert run.code == 1, "a failed node outweighs one that could not be scanned"


def test_watch_stops_cleanly_on_sigterm_and_after_its_duration(simulator: Simulator, tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.e2e.conftest import ci_scan_command

    env = simulator.environment({"CI_SCAN_POLL_INTERVAL": "1s"})
    with subprocess.Popen([ci_scan_command(), "watch", "--node-type", "host,container"], env=env, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        try:
            deadline = time.monotonic() + 30
            assert process.stderr is not None
            line = process.stderr.readline()
            while "Watching" not in line and time.monotonic() < deadline:
                line = process.stderr.readline()
            assert "Watching for new host, container nodes" in line
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 143
        finally:
            process.kill()
    short = simulator.run("watch", "--duration", "2s", cwd=tmp_path)
    assert short.code == 0 and short.stdout == "", short.output
