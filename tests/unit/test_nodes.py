"""Agent-discovered hosts and containers: reading them, finding the ones named, the topology delta, listing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ci_scan.errors import ConfigError, ConsoleResponseError, TargetNotFound
from ci_scan.inventory import COLUMNS, render
from ci_scan.nodes import resolve
from ci_scan.wire import AgentNode, parse_agent_nodes, parse_topology_delta
from tests.conftest import FakeTime


def test_hosts_and_containers_are_read_with_what_a_pipeline_needs() -> None:
    (host,) = parse_agent_nodes([{"node_id": "web-1", "host_name": "web-1", "agent_running": False,
                                  "instance_id": "i-0abc", "cloud_provider": "aws"}], "host")
    assert (host.name, host.agent_running, host.instance_id, host.cloud_provider) == ("web-1", False, "i-0abc", "aws")
    (container,) = parse_agent_nodes([{"node_id": "c0ffee", "docker_container_name": "nginx",
                                       "docker_image_name_with_tag": "nginx:1.25", "host_name": "web-1"}],
                                     "container")
    assert (container.name, container.image, container.host_name, container.agent_running) == (
        "nginx", "nginx:1.25", "web-1", True)
    with pytest.raises(ConsoleResponseError):
        parse_agent_nodes(["not an object"], "host")


def test_the_topology_delta_reads_the_misspelt_field_and_keeps_its_cursor() -> None:
    delta = parse_topology_delta({"additons": [{"node_id": "new-7", "node_type": "host"}, {"node_type": "host"}],
                                  "deletions": [{"node_id": "old-1", "node_type": "host"}],
                                  "addition_timestamp": 2_000, "deletion_timestamp": 1_500}, (1_000, 1_000))
    assert delta.additions == (("new-7", "host"),) and delta.deletions == (("old-1", "host"),)
    assert (delta.addition_timestamp, delta.deletion_timestamp) == (2_000, 1_500)
    # A reply without timestamps, or with older ones, never moves the cursor back.
    stale = parse_topology_delta({"additons": None, "addition_timestamp": 10}, (2_000, 1_500))
    assert (stale.additions, stale.addition_timestamp, stale.deletion_timestamp) == ((), 2_000, 1_500)


class Console:
    """Hosts that appear (and start their agent) as the console's time passes."""

    def __init__(self, time: FakeTime, hosts: Sequence[tuple[AgentNode, float]]) -> None:
        self.time, self.hosts, self.searches = time, hosts, 0

    def visible(self) -> list[AgentNode]:
        return [host for host, at in self.hosts if at <= self.time.now]

    def search_nodes(self, node_type: str, contains: Mapping[str, list[Any]] | None = None) -> list[AgentNode]:
        self.searches += 1
        ids = set((contains or {}).get("node_id", []))
        return [h for h in self.visible() if h.node_id in ids]

    def all_nodes(self, node_type: str) -> list[AgentNode]:
        self.searches += 1
        return self.visible()


def test_a_named_host_is_found_by_id_or_by_host_name() -> None:
    time = FakeTime()
    console = Console(time, [(AgentNode("h-1", "host", "build-agent", host_name="build-agent.internal"), 0),
                             (AgentNode("h-2", "host", "old", agent_running=False), 0)])
    found = resolve(console, "host", ["h-1", "old"], wait_for=None, progress=lambda _: None,  # type: ignore[arg-type]
                    clock=time.clock, sleep=time.sleep)
    assert [t.node_id for t in found.targets] == ["h-1"]
    ((target, why),) = found.unscannable
    assert target.node_id == "h-2" and "agent is not running" in why
    by_host_name = resolve(console, "host", ["build-agent.internal"], wait_for=None,  # type: ignore[arg-type]
                           progress=lambda _: None, clock=time.clock, sleep=time.sleep)
    assert by_host_name.targets[0].kind == "host" and by_host_name.targets[0].name == "build-agent"
    with pytest.raises(TargetNotFound, match="no host named 'nowhere'"):
        resolve(console, "host", ["nowhere"], wait_for=None, progress=lambda _: None,  # type: ignore[arg-type]
                clock=time.clock, sleep=time.sleep)


def test_wait_for_node_waits_for_a_host_that_registers_late() -> None:
    time = FakeTime()
    console = Console(time, [(AgentNode("new-7", "host", "new-7"), 12.0)])
    said: list[str] = []
    found = resolve(console, "host", ["new-7"], wait_for=60, progress=said.append,  # type: ignore[arg-type]
                    clock=time.clock, sleep=time.sleep)
    assert [t.node_id for t in found.targets] == ["new-7"] and 12.0 <= time.now < 20.0
    assert len(said) == 1 and said[0].startswith("Waiting up to 60s for 1 host(s)")
    late = Console(FakeTime(), [(AgentNode("new-8", "host", "new-8"), 100.0)])
    with pytest.raises(TargetNotFound, match="within --wait-for-node 30s"):
        resolve(late, "host", ["new-8"], wait_for=30, progress=lambda _: None,  # type: ignore[arg-type]
                clock=late.time.clock, sleep=late.time.sleep)
    assert late.time.now == 30.0, "it waits exactly as long as it was told"


def test_listing_renders_a_table_and_json_with_console_text_neutralised() -> None:
    rows = [{"name": "web\x1b[31m-1", "agent_running": True, "cloud_provider": "aws", "instance_id": "i-1",
             "node_id": "web-1"}]
    table = render(rows, COLUMNS["host"], as_json=False)
    assert table.splitlines()[0].split() == ["NAME", "AGENT_RUNNING", "CLOUD_PROVIDER", "INSTANCE_ID", "NODE_ID"]
    assert "\x1b" not in table and "yes" in table and table.endswith("1 found\n")
    assert json.loads(render(rows, COLUMNS["host"], as_json=True)) == rows


def test_a_name_that_matches_several_nodes_asks_for_the_node_id() -> None:
    time = FakeTime()
    console = Console(time, [(AgentNode("c-1", "container", "web"), 0), (AgentNode("c-2", "container", "web"), 0)])
    with pytest.raises(ConfigError, match="matches 2 containers .c-1, c-2.: give the node id"):
        resolve(console, "container", ["web"], wait_for=None, progress=lambda _: None,  # type: ignore[arg-type]
                clock=time.clock, sleep=time.sleep)
