"""Vulnerability, secret and malware scans of hosts and containers: start, status, results, count, list and
stop, the agent-not-running skip and the hidden image scan of a container, every exchange checked against the spec."""

from __future__ import annotations

from typing import Any

import pytest

from ci_scan.simulator import ConsoleSimulator
from ci_scan.simulator.kinds import KINDS as SCAN_KINDS
from ci_scan.simulator.scans import ScanBook
from tests.contract import SpecContract
from tests.simulator.helpers import Console, fields_filter
from tests.simulator.node_helpers import START_MS, FakeClock, search, start, statuses

KINDS = ("vulnerability", "secret", "malware")
FIELD = {"vulnerability": "vulnerabilities", "secret": "secrets", "malware": "malwares"}
SCAN_TYPE = {"vulnerability": "VulnerabilityScan", "secret": "SecretScan", "malware": "MalwareScan"}
# A node's record of its latest scan of each kind: status, scan id and count fields.
LATEST = {
    "vulnerability": ("vulnerability_scan_status", "vulnerability_latest_scan_id", "vulnerabilities_count"),
    "secret": ("secret_scan_status", "secret_latest_scan_id", "secrets_count"),
    "malware": ("malware_scan_status", "malware_latest_scan_id", "malwares_count"),
}
DEMO_VULNERABILITIES = {"critical": 3, "high": 9, "medium": 15, "low": 11, "unknown": 6}
COUNTS = {
    "host": {"vulnerability": {"critical": 1, "high": 2, "medium": 3, "low": 2}, "secret": {"high": 1, "low": 1},
             "malware": {"medium": 1}},
    "container": {"vulnerability": DEMO_VULNERABILITIES, "secret": {"high": 3, "medium": 1, "low": 1},
                  "malware": {"high": 1}},
}  # fmt: skip
NODE = {"host": "build-agent-1", "container": "nginx-frontend"}


@pytest.fixture
def timed(contract: SpecContract) -> Console:
    client = Console(ConsoleSimulator(clock=FakeClock()), contract)
    client.login()
    return client


def book(console: Console, kind: str) -> ScanBook:
    return console.sim.state.book(SCAN_KINDS[kind])


def node_id(console: Console, name: str) -> str:
    return console.sim.dataset.node(name).node_id


def start_one(console: Console, kind: str, name: str) -> str:
    node = console.sim.dataset.node(name)
    response = start(console, kind, node.node_id, node_type=node.node_type)
    assert response.status_code == 202, response.text
    scan_id: str = response.json()["scan_ids"][0]
    return scan_id


def finish(console: Console, kind: str, scan_id: str) -> list[str]:
    """Poll until the scan is COMPLETE with every finding in (a vulnerability scan: its runtime SBOM is there)."""
    if kind == "vulnerability":
        return console.settle(scan_id)
    return statuses(console, kind, scan_id, 4)


def results(console: Console, kind: str, scan_id: str, **options: Any) -> dict[str, Any]:
    response = console.results(scan_id, path=f"/scan/results/{kind}", **options)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def listed(console: Console, kind: str, *nodes: tuple[str, str]) -> Any:
    body = {"node_ids": [{"node_id": i, "node_type": t} for i, t in nodes], "fields_filter": fields_filter(),
            "window": {"offset": 0, "size": 0}}  # fmt: skip
    return console.post(f"/scan/list/{kind}", body).json()["scans_info"]


def latest_scan(console: Console, what: str, name: str, kind: str) -> tuple[Any, ...]:
    key = "node_id" if what == "hosts" else "docker_container_name"
    record = next(node for node in search(console, what) if node[key] == name)
    return tuple(record[field] for field in LATEST[kind])


@pytest.mark.parametrize("node_type", ["host", "container"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_scan_of_a_node_of_each_kind(timed: Console, contract: SpecContract, kind: str, node_type: str) -> None:
    before = contract.checked
    name, what = NODE[node_type], f"{node_type}s"
    node = timed.sim.dataset.node(name)
    started = start(timed, kind, node.node_id, node_type=node_type)
    assert started.status_code == 202
    scan_id = started.json()["scan_ids"][0]
    assert started.json()["scan_ids"] == [f"{node.node_id}-{START_MS // 1000}"]
    seen = finish(timed, kind, scan_id)
    assert seen[:4] == ["STARTING", "IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    info = timed.post(f"/scan/status/{kind}", {"scan_ids": [], "bulk_scan_id": started.json()["bulk_scan_id"]})
    entry = info.json()["statuses"][scan_id]
    assert (entry["node_id"], entry["node_name"], entry["node_type"]) == (node.node_id, node.node_name, node_type)
    reply = results(timed, kind, scan_id)
    expected_node = {
        "host": ("host", "build-agent-1", "", "", "123456789012"),
        "container": ("container", "web-prod-1", "nginx-frontend", "registry.example.com/team/app", ""),
    }[node_type]
    assert (reply["node_type"], reply["host_name"], reply["docker_container_name"], reply["docker_image_name"],
            reply["cloud_account_id"]) == expected_node  # fmt: skip
    assert (reply["scan_id"], reply["node_id"], reply["node_name"]) == (scan_id, node.node_id, node.node_name)
    assert reply["severity_counts"] == COUNTS[node_type][kind]
    total = len(node.findings_of(kind))
    assert len(reply[FIELD[kind]]) == total
    count = timed.results(scan_id, path=f"/scan/results/count/{kind}", window=(0, 2)).json()
    assert count == {"count": min(2, total), "categories": None}
    infos = listed(timed, kind, (node.node_id, node_type))
    assert [(i["scan_id"], i["node_type"], i["severity_counts"]) for i in infos] == [
        (scan_id, node_type, COUNTS[node_type][kind])
    ]
    assert latest_scan(timed, what, name, kind) == ("COMPLETE", scan_id, sum(COUNTS[node_type][kind].values()))
    assert contract.checked - before >= len(seen) + 6  # every exchange above, each checked against the spec


@pytest.mark.parametrize("kind", KINDS)
def test_a_host_whose_agent_is_not_running_is_skipped_without_a_word(console: Console, kind: str) -> None:
    alone = start(console, kind, "legacy-box")
    assert (alone.status_code, alone.json()) == (202, {"scan_ids": [], "bulk_scan_id": ""})
    both = start(console, kind, "legacy-box", "build-agent-1").json()
    assert [scan_id.rsplit("-", 1)[0] for scan_id in both["scan_ids"]] == ["build-agent-1"]
    assert both["bulk_scan_id"]
    assert latest_scan(console, "hosts", "legacy-box", kind) == ("", "", 0)
    assert listed(console, kind, ("legacy-box", "host")) is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_container_scan_also_starts_a_hidden_scan_of_its_image(console: Console, kind: str) -> None:
    image = console.sim.dataset.image("team/app", "1.4.2")
    scans = book(console, kind)
    started = start(console, kind, node_id(console, "nginx-frontend"), node_type="container").json()
    assert len(started["scan_ids"]) == 1 and started["scan_ids"][0].startswith(node_id(console, "nginx-frontend"))
    hidden = scans.latest(image)
    assert hidden is not None and hidden.scan_id not in started["scan_ids"]
    assert hidden.scan_id.startswith(image.node_id)
    polled = console.post(f"/scan/status/{kind}", {"scan_ids": [hidden.scan_id], "bulk_scan_id": ""}).json()
    assert polled["statuses"][hidden.scan_id]["node_type"] == "image"
    assert len(scans.bulks) == 2  # the reply's bulk, and the image scan's own
    # The image has an unfinished scan now: a second container start reuses it rather than start another.
    start(console, kind, node_id(console, "nginx-frontend"), node_type="container")
    assert scans.latest(image) is hidden and len(scans.by_node[image.node_id]) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_an_image_the_console_does_not_hold_stops_every_hidden_image_scan(console: Console, kind: str) -> None:
    scans = book(console, kind)
    redis = start(console, kind, node_id(console, "redis-cache"), node_type="container").json()
    assert len(redis["scan_ids"]) == 1 and len(scans.scans) == 1
    both = start(console, kind, node_id(console, "nginx-frontend"), node_id(console, "redis-cache"),
                 node_type="container").json()  # fmt: skip
    assert len(both["scan_ids"]) == 2 and len(scans.scans) == 2  # the redis scan is reused; no image scan
    assert scans.latest(console.sim.dataset.image("team/app", "1.4.2")) is None


def test_unfinished_node_scans_are_reused_and_stop_works(console: Console) -> None:
    for kind in KINDS:
        first = start_one(console, kind, "web-prod-1")
        assert start_one(console, kind, "web-prod-1") == first
        stopped = console.post(f"/scan/stop/{kind}", {"scan_ids": [first], "scan_type": SCAN_TYPE[kind]})
        assert (stopped.status_code, stopped.content) == (202, b"")
        assert statuses(console, kind, first, 2) == ["CANCELLED", "CANCELLED"]
        assert start_one(console, kind, "web-prod-1") != first
        assert results(console, kind, first)["severity_counts"] == {}  # a clean host, and not COMPLETE


def test_a_scan_of_an_inactive_node_waits_in_starting(timed: Console) -> None:
    timed.sim.deregister_node("build-agent-1")
    scan_id = start_one(timed, "vulnerability", "build-agent-1")
    assert statuses(timed, "vulnerability", scan_id, 6) == ["STARTING"] * 6


def test_a_host_vulnerability_scan_completes_before_its_findings(console: Console) -> None:
    scan_id = start_one(console, "vulnerability", "build-agent-1")
    assert statuses(console, "vulnerability", scan_id, 4)[-1] == "COMPLETE"
    assert results(console, "vulnerability", scan_id)["vulnerabilities"] == []
    assert console.sbom(scan_id).status_code == 500
    console.settle(scan_id)
    sbom = console.sbom(scan_id).json()
    cves = {f["cve_id"] for f in results(console, "vulnerability", scan_id)["vulnerabilities"]}
    assert {entry["cve_id"] for entry in sbom} - {""} <= cves


def test_nodes_that_cannot_be_found(timed: Console) -> None:
    host_id, container_id = "build-agent-1", node_id(timed, "nginx-frontend")
    for name, node_type in [("no-such-host", "host"), (container_id, "host"), (host_id, "container"),
                            (host_id, "image"), ("new-node-7", "host")]:  # fmt: skip
        missing = start(timed, "vulnerability", name, node_type=node_type)
        assert (missing.status_code, missing.json()["message"]) == (404, f"Node {name} not found")
    assert start(timed, "secret", "build-agent-1", "no-such-host").status_code == 404  # nothing starts at all
    assert timed.sim.state.secret_scans.scans == {}
    timed.sim.register_node("new-node-7")
    assert start(timed, "vulnerability", "new-node-7").json()["scan_ids"] == [f"new-node-7-{START_MS // 1000}"]


def test_listing_goes_by_node_ids_and_labels(console: Console) -> None:
    host = start_one(console, "vulnerability", "build-agent-1")
    container = start_one(console, "vulnerability", "nginx-frontend")
    container_id = node_id(console, "nginx-frontend")
    assert [i["scan_id"] for i in listed(console, "vulnerability", ("build-agent-1", "host"))] == [host]
    assert listed(console, "vulnerability", ("build-agent-1", "container")) is None
    both = listed(console, "vulnerability", ("build-agent-1", "host"), (container_id, "container"))
    assert sorted(i["scan_id"] for i in both) == sorted([host, container])
    every = {i["node_type"] for i in listed(console, "vulnerability")}
    assert every == {"host", "container", "image"}  # the hidden image scan too
