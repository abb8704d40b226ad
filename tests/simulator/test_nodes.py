"""Agent-discovered hosts and containers: search, counts, paging, late registration and the topology delta,
every exchange checked against the spec."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ci_scan.simulator import READONLY_TOKEN, ConsoleSimulator, Container, Dataset, Host
from tests.conftest import shared_path
from tests.contract import SpecContract
from tests.simulator.helpers import Console
from tests.simulator.node_helpers import (
    START_MS,
    FakeClock,
    added,
    count,
    cursor_of,
    deleted,
    delta,
    names,
    search,
    search_body,
)

DAY_MS = 86_400_000
KNOWN_HOSTS = ["legacy-box", "build-agent-1", "web-prod-1"]  # in the order they registered
CONTAINERS = ["nginx-frontend", "redis-cache"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def nodes(clock: FakeClock, contract: SpecContract) -> Iterator[Console]:
    """A client of a simulator on a clock that moves only when the test moves it."""
    client = Console(ConsoleSimulator(clock=clock), contract)
    client.login()
    yield client
    client.http.close()


def test_search_lists_the_registered_hosts_and_containers(console: Console) -> None:
    hosts = {host["node_id"]: host for host in search(console, "hosts")}
    assert list(hosts) == KNOWN_HOSTS  # new-node-7 has not registered yet
    assert {name: host["agent_running"] for name, host in hosts.items()} == {
        "legacy-box": False, "build-agent-1": True, "web-prod-1": True,
    }  # fmt: skip
    agent = hosts["build-agent-1"]
    assert (agent["host_name"], agent["node_name"], agent["cloud_provider"], agent["private_ip"]) == (
        "build-agent-1", "build-agent-1", "aws", ["10.0.1.15"],
    )  # fmt: skip
    assert agent["vulnerability_scan_status"] == "" and agent["vulnerabilities_count"] == 0  # never scanned
    assert agent["containers"] is None and agent["cpu_max"] == 400 and isinstance(agent["cpu_max"], int)
    containers = {c["docker_container_name"]: c for c in search(console, "containers")}
    assert list(containers) == CONTAINERS
    nginx = containers["nginx-frontend"]
    assert (nginx["node_id"], nginx["node_name"], nginx["host_name"], nginx["docker_image_name_with_tag"]) == (
        console.sim.dataset.container("nginx-frontend").node_id, "nginx-frontend / web-prod-1", "web-prod-1",
        "registry.example.com/team/app:1.4.2",
    )  # fmt: skip
    assert len(nginx["node_id"]) == 64 and nginx["docker_container_state"] == "running"
    assert nginx["image"]["node_id"] == "" and nginx["image"]["containers"] is None  # search reads no relation
    assert containers["redis-cache"]["docker_image_name_with_tag"] == "redis:7.2.4"


@pytest.mark.parametrize(
    ("what", "filters", "expected"),
    [
        ("hosts", {"contains": {"node_id": ["web-prod-1", "new-node-7"]}}, ["web-prod-1"]),
        ("hosts", {"contains": {"host_name": ["build-agent-1"]}}, ["build-agent-1"]),
        ("hosts", {"contains": {"node_name": ["legacy-box"]}}, ["legacy-box"]),
        ("hosts", {"contains": {"agent_running": [True]}}, ["build-agent-1", "web-prod-1"]),
        ("hosts", {"contains": {"agent_running": [False]}}, ["legacy-box"]),
        ("hosts", {"contains": {"active": [True], "pseudo": [False]}}, KNOWN_HOSTS),
        ("hosts", {"contains": {"node_type": ["host"]}}, KNOWN_HOSTS),  # a label test
        ("hosts", {"contains": {"node_type": ["container"]}}, []),
        ("hosts", {"contains": {"cloud_provider": ["private_cloud"]}}, ["legacy-box"]),
        ("hosts", {"contains": {"agent_running": ["true"]}}, []),  # a string is no boolean
        ("hosts", {"match_filter": {"filter_in": {"node_id": ["prod"]}}}, ["web-prod-1"]),
        ("hosts", {"not_contains_filter": {"filter_in": {"node_id": ["legacy-box"]}}}, ["build-agent-1", "web-prod-1"]),
        ("hosts", {"order": [("node_id", False)]}, ["build-agent-1", "legacy-box", "web-prod-1"]),
        ("hosts", {"order": [("created_at", True)]}, ["web-prod-1", "build-agent-1", "legacy-box"]),
        ("hosts", {"order": [("no_such_field", False)]}, []),  # an order field must not be null
        ("containers", {"contains": {"host_name": ["web-prod-1"]}}, CONTAINERS),
        ("containers", {"contains": {"docker_image_name_with_tag": ["redis:7.2.4"]}}, ["redis-cache"]),
        ("containers", {"contains": {"docker_container_name": ["nginx-frontend"]}}, ["nginx-frontend"]),
        ("containers", {"contains": {"active": [True]}, "order": [("docker_container_name", True)]}, CONTAINERS[::-1]),
    ],
)  # fmt: skip
def test_search_filters(console: Console, what: str, filters: dict[str, object], expected: list[str]) -> None:
    assert names(console, what, **filters) == expected
    assert count(console, what, **filters) == len(expected)


def test_the_outer_window_pages_and_the_counts_are_windowed(console: Console) -> None:
    order = [("node_id", False)]
    pages = [names(console, "hosts", order=order, window=(offset, 2)) for offset in (0, 2, 4)]
    assert pages == [["build-agent-1", "legacy-box"], ["web-prod-1"], []]
    assert [count(console, "hosts", order=order, window=(offset, 2)) for offset in (0, 2, 4)] == [2, 1, 0]
    assert count(console, "hosts", window=(0, 0)) == 3  # size 0: no limit
    assert names(console, "containers", window=(1, 0)) == ["redis-cache"]


def test_in_field_filter_reads_only_those_fields(console: Console) -> None:
    hosts = search(console, "hosts", in_fields=["node_id", "agent_running", "active"], order=[("node_id", False)])
    first = hosts[0]
    picked = (first["node_id"], first["agent_running"], first["host_name"], first["os"])
    assert picked == ("build-agent-1", True, "", "")
    assert "active" not in first and first["private_ip"] is None  # no struct field for it; zero for the rest


def test_the_documented_search_body_and_an_anonymous_read_only_user(console: Console) -> None:
    body = json.loads(shared_path("deepfence", "examples", "docs.search-hosts.request.json").read_text())
    assert [host["node_id"] for host in console.post("/search/hosts", body).json()] == KNOWN_HOSTS
    console.login(READONLY_TOKEN)  # searches need no permission
    assert console.post("/search/count/containers", search_body()).json() == {"count": 2, "categories": {}}


def test_search_bodies_are_only_decoded(console: Console) -> None:
    with console.invalid_requests():
        assert [h["node_id"] for h in console.post("/search/hosts", {}).json()] == KNOWN_HOSTS
        bad = console.post("/search/hosts", {"node_filter": {}, "window": {"offset": "0", "size": 1}})
        assert bad.status_code == 400 and "cannot unmarshal string" in bad.json()["message"]
        assert console.post("/search/hosts", [1]).status_code == 400
    with console.off_spec():
        assert console.http.get("/deepfence/search/hosts").status_code == 405


def test_count_nodes(console: Console) -> None:
    reply = console.http.get("/deepfence/search/count/nodes").json()
    images = sum(len(r.visible_images()) for r in console.sim.dataset.registries)
    assert reply == {"cloud_provider": 2, "host": 3, "container": 2, "container_image": images, "pod": 0,
                     "kubernetes_cluster": 0, "namespace": 0}  # fmt: skip
    console.sim.deregister_node("web-prod-1")  # and its two containers
    after = console.http.get("/deepfence/search/count/nodes").json()
    assert (after["host"], after["container"], after["cloud_provider"]) == (2, 0, 2)


def test_the_late_host_registers_after_thirty_seconds_of_console_time(nodes: Console, clock: FakeClock) -> None:
    late = nodes.sim.dataset.host("new-node-7")
    assert late.registered_at_ms == 30_000
    first = delta(nodes)
    assert "new-node-7" not in names(nodes, "hosts") and ("new-node-7", "host") not in added(first)
    assert nodes.post("/search/count/hosts", search_body()).json()["count"] == 3
    clock.now = (START_MS + 29_999) / 1000
    assert "new-node-7" not in names(nodes, "hosts")
    assert added(delta(nodes, cursor_of(first))) == []
    clock.now = (START_MS + 30_000) / 1000
    assert names(nodes, "hosts", contains={"node_id": ["new-node-7"]}) == ["new-node-7"]
    second = delta(nodes, cursor_of(first))
    assert added(second) == [("new-node-7", "host")] and deleted(second) == []
    assert cursor_of(second) == (START_MS + 30_000, cursor_of(first)[1])
    assert added(delta(nodes, cursor_of(second))) == []  # the cursor does not repeat it


def test_register_node_makes_a_late_node_register_now(nodes: Console, clock: FakeClock) -> None:
    first = delta(nodes)
    clock.now += 5
    nodes.sim.register_node("new-node-7")
    assert "new-node-7" in names(nodes, "hosts")
    second = delta(nodes, cursor_of(first))
    assert (added(second), second["addition_timestamp"]) == ([("new-node-7", "host")], START_MS + 5_000)
    clock.now += 60  # its original time to register has come and gone: nothing new
    assert added(delta(nodes, cursor_of(second))) == []


def test_the_delta_cursor_and_the_misspelt_field(nodes: Console) -> None:
    first = delta(nodes)
    assert set(first) == {"additons", "deletions", "addition_timestamp", "deletion_timestamp"}
    dataset = nodes.sim.dataset
    assert added(first) == [("legacy-box", "host"), ("build-agent-1", "host"), ("web-prod-1", "host"),
                            (dataset.container("nginx-frontend").node_id, "container"),
                            (dataset.container("redis-cache").node_id, "container")]  # fmt: skip
    assert (deleted(first), first["deletion_timestamp"]) == ([], 0)  # nothing yet: the cursor sent comes back
    assert first["addition_timestamp"] == START_MS - 3 * DAY_MS + 60_000  # the newest created_at
    again = delta(nodes, cursor_of(first))
    assert (added(again), deleted(again), cursor_of(again)) == ([], [], cursor_of(first))
    assert [t for _, t in added(delta(nodes, labels=("Node",)))] == ["host"] * 3
    assert [t for _, t in added(delta(nodes, labels=("Container",)))] == ["container"] * 2
    assert added(delta(nodes, labels=("ContainerImage", "node"))) == []  # labels are case-sensitive
    only = delta(nodes, (5, 7), addition=False)
    assert (only["additons"], only["addition_timestamp"], only["deletion_timestamp"]) == ([], 0, 7)


def test_deletions_when_nodes_go_inactive(nodes: Console, clock: FakeClock) -> None:
    first = delta(nodes)
    clock.now += 10
    nodes.sim.deregister_node("web-prod-1")  # its containers go with it
    second = delta(nodes, cursor_of(first))
    gone = [("web-prod-1", "host")] + [(nodes.sim.dataset.container(n).node_id, "container") for n in CONTAINERS]
    assert (added(second), deleted(second)) == ([], gone)
    assert second["deletion_timestamp"] == START_MS + 10_000
    assert deleted(delta(nodes, cursor_of(second))) == []
    assert names(nodes, "hosts") == KNOWN_HOSTS  # inactive nodes are still there...
    assert names(nodes, "hosts", contains={"active": [True]}) == ["legacy-box", "build-agent-1"]  # ...but inactive
    assert count(nodes, "containers", contains={"active": [True]}) == 0
    clock.now += 10
    nodes.sim.register_node("web-prod-1")  # back, with its created_at: no new addition
    third = delta(nodes, cursor_of(second))
    assert (added(third), deleted(third)) == ([], [])
    assert names(nodes, "hosts", contains={"active": [True]}) == KNOWN_HOSTS
    with pytest.raises(ValueError, match="not registered"):
        nodes.sim.deregister_node("new-node-7")
    with pytest.raises(KeyError):
        nodes.sim.register_node("no-such-node")


def test_delta_errors(console: Console) -> None:
    body = {"addition": True, "addition_timestamp": 0, "deletion": False, "deletion_timestamp": 0}
    for labels in ([], None, ["Node) OR (true"]):
        reply = console.post("/graph/topology/delta", {**body, "entity_types": labels})
        assert reply.status_code == 500 and "SyntaxError" in reply.json()["message"]
    quiet = console.post("/graph/topology/delta", {**body, "addition": False, "entity_types": []})
    assert quiet.json() == {"additons": [], "deletions": [], "addition_timestamp": 0, "deletion_timestamp": 0}
    with console.invalid_requests():
        fraction = console.post("/graph/topology/delta", {**body, "addition_timestamp": 1.5, "entity_types": ["Node"]})
        assert fraction.status_code == 400 and "of type int64" in fraction.json()["message"]


def test_a_dataset_of_ones_own(contract: SpecContract) -> None:
    solo = Host("solo", registered_at_ms=-1000)
    app = Container("app", host_name="solo", image_name_with_tag="app:1", registered_at_ms=-500)
    dataset = Dataset([], hosts=[solo], containers=[app])
    console = Console(ConsoleSimulator(dataset, clock=FakeClock()), contract)
    console.login()
    assert names(console, "hosts") == ["solo"] and names(console, "containers") == ["app"]
    assert added(delta(console))[0] == ("solo", "host")
    assert Console(ConsoleSimulator(Dataset([]), clock=FakeClock()), contract).sim.dataset.hosts == []
