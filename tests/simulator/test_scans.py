"""Starting, polling, stopping and listing vulnerability scans."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ci_scan.simulator import ConsoleSimulator
from tests.contract import SpecContract
from tests.simulator.helpers import SCAN_FILTER_KEYS, Console, fields_filter

PRIVATE = "docker_private_registry-ci-bot-1"
FAILURE = "scan failed to complete, please check agent logs"
APP_NEW = ("team/app", "1.4.2")


class SteppingClock:
    """Starts at a fixed second and moves 250 ms every time it is read."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def valid_start() -> dict[str, Any]:
    return {
        "node_ids": [{"node_id": "x", "node_type": "image"}],
        "filters": {key: {"filter_in": None} for key in SCAN_FILTER_KEYS},
        "scan_config": [{"language": "base"}],
    }


def broken(change: Any) -> dict[str, Any]:
    body = valid_start()
    change(body)
    return body


@pytest.mark.parametrize(
    ("body", "fields", "index"),
    [
        (broken(lambda b: b.pop("node_ids")), {"node_ids"}, None),
        (broken(lambda b: b.update(node_ids=[])), {"node_ids"}, None),
        (broken(lambda b: b.update(node_ids=None)), {"node_ids"}, None),
        (broken(lambda b: b["node_ids"].append({"node_id": "y", "node_type": "vm"})), {"node_type"}, [1]),
        (broken(lambda b: b["node_ids"].append({"node_type": "image"})), {"node_id"}, [1]),
        (broken(lambda b: b.update(scan_config=[])), {"scan_config"}, None),
        (broken(lambda b: b.update(scan_config=[{"language": "nodejs"}])), {"language"}, [0]),
        (broken(lambda b: b.pop("filters")), {"filters"}, None),
        (broken(lambda b: b["filters"].pop("host_scan_filter")), {"host_scan_filter"}, None),
    ],
)
def test_start_validates_its_body(console: Console, body: dict[str, Any], fields: set[str], index: Any) -> None:
    with console.invalid_requests():
        response = console.post("/scan/start/vulnerability", body)
    assert response.status_code == 400
    error = response.json()
    assert (error["message"], set(error["error_fields"])) == ("", fields)
    assert error["error_index"] == (None if index is None else {next(iter(fields)): index})


def test_a_body_of_the_wrong_json_type_is_a_decoding_error(console: Console) -> None:
    with console.invalid_requests():
        response = console.post("/scan/start/vulnerability", broken(lambda b: b.update(node_ids="x")))
    assert response.status_code == 400
    assert response.json()["message"].startswith("json: cannot unmarshal string into Go struct field")
    assert response.json()["error_fields"] is None


@pytest.mark.parametrize("node_type", ["image", "host", "container"])
def test_an_unknown_node_is_a_404(console: Console, node_type: str) -> None:
    response = console.start("deadbeef", node_type=node_type)
    assert (response.status_code, response.json()["message"]) == (404, "Node deadbeef not found")


def test_scan_ids_are_node_id_dash_unix_seconds(contract: SpecContract) -> None:
    console = Console(ConsoleSimulator(clock=lambda: 1_750_000_123.75), contract)
    console.login()
    node_id = console.sim.dataset.image("team/clean").node_id
    started = console.start(node_id).json()
    assert started["scan_ids"] == [f"{node_id}-1750000123"]
    assert uuid.UUID(started["bulk_scan_id"]).version == 4
    info = console.status(started["scan_ids"][0]).json()["statuses"][started["scan_ids"][0]]
    assert info["created_at"] == info["updated_at"] == 1_750_000_123_750


def test_an_unfinished_scan_is_reused_and_a_finished_one_is_not(console: Console) -> None:
    node_id = console.sim.dataset.image("team/clean").node_id
    first = console.start(node_id).json()
    again = console.start(node_id).json()
    assert again["scan_ids"] == first["scan_ids"] and again["bulk_scan_id"] != first["bulk_scan_id"]
    console.statuses(first["scan_ids"][0], 4)
    assert console.start(node_id).json()["scan_ids"] != first["scan_ids"]


def test_system_images_are_skipped_unless_asked_for(console: Console) -> None:
    node_id = console.sim.dataset.image("team/system").node_id
    assert console.start(node_id).json() == {"scan_ids": [], "bulk_scan_id": ""}
    assert len(console.start(node_id, deepfence_system_scan=True).json()["scan_ids"]) == 1


def test_an_image_without_a_tag_is_a_500(console: Console) -> None:
    response = console.start(console.sim.dataset.image("team/notag").node_id)
    assert response.status_code == 500
    assert response.json() == {"message": "image tag not found", "error_fields": None, "error_index": None}


@pytest.mark.parametrize(
    ("image_scan_filter", "expected"),
    [
        ({"docker_image_name": ["team/app"], "docker_image_tag": ["latest"]}, [APP_NEW]),
        ({"docker_image_name": ["team/app"], "docker_image_tag": ["recent"]}, [APP_NEW]),
        ({"docker_image_name": ["team/app"], "docker_image_tag": ["all"]}, [APP_NEW, ("team/app", "1.4.1")]),
        ({"docker_image_tag": ["1.4.1"]}, [("team/app", "1.4.1")]),
        ({"docker_image_name": ["team/clean", "team/system"]}, [("team/clean", "1.0")]),
    ],
)  # fmt: skip
def test_a_registry_expands_to_its_images(
    console: Console, image_scan_filter: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    started = console.start(PRIVATE, node_type="registry", image_scan_filter=image_scan_filter).json()
    nodes = [console.sim.dataset.image(*name).node_id for name in expected]
    assert [scan_id.rsplit("-", 1)[0] for scan_id in started["scan_ids"]] == nodes
    statuses = console.status(bulk_scan_id=started["bulk_scan_id"]).json()["statuses"]
    assert sorted(statuses) == sorted(started["scan_ids"])


def test_a_whole_registry_and_its_failure_modes(console: Console) -> None:
    every_1_0 = console.start(PRIVATE, node_type="registry", image_scan_filter={"docker_image_tag": ["1.0"]})
    assert len(every_1_0.json()["scan_ids"]) == 13  # 14 images, the system one skipped
    nothing = console.start(PRIVATE, node_type="registry", image_scan_filter={"docker_image_tag": ["v9"]})
    assert nothing.status_code == 400
    assert nothing.json()["error_fields"] == {"node_ids": "nodes not found with the provided filters"}
    keyword = {"docker_image_name": ["team/app"], "docker_image_tag": ["newest"]}
    assert console.start(PRIVATE, node_type="registry", image_scan_filter=keyword).status_code == 400
    untagged = console.start(PRIVATE, node_type="registry", image_scan_filter={"docker_image_name": ["team/notag"]})
    assert untagged.status_code == 500
    assert console.start("quay-nobody-9", node_type="registry").status_code == 404


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("team/clean", ["STARTING", "IN_PROGRESS", "IN_PROGRESS", "COMPLETE", "COMPLETE"]),
        ("team/flaky", ["STARTING", "IN_PROGRESS", "STARTING", "IN_PROGRESS", "COMPLETE"]),
        ("team/broken", ["STARTING", "IN_PROGRESS", "IN_PROGRESS", "ERROR", "ERROR"]),
        ("team/cancelled", ["STARTING", "IN_PROGRESS", "CANCELLED", "CANCELLED", "CANCELLED"]),
        ("team/deleted", ["STARTING", "IN_PROGRESS", "DELETE_PENDING", "DELETE_PENDING", "DELETE_PENDING"]),
        ("team/stuck", ["STARTING"] + ["IN_PROGRESS"] * 9),
    ],
)
def test_each_scenario_moves_one_step_per_poll(console: Console, repository: str, expected: list[str]) -> None:
    scan_id = console.start_one(repository, "1.0")
    assert console.statuses(scan_id, len(expected)) == expected


def test_status_entries_and_their_quirks(contract: SpecContract) -> None:
    console = Console(ConsoleSimulator(clock=SteppingClock()), contract)
    console.login()
    scan_id = console.start_one("team/broken", "1.0")
    infos = [console.status(scan_id).json()["statuses"][scan_id] for _ in range(5)]
    image = console.sim.dataset.image("team/broken")
    assert {(i["node_id"], i["node_name"], i["node_type"]) for i in infos} == {
        (image.node_id, image.node_name, "image")
    }
    assert all(info["severity_counts"] is None for info in infos)
    assert [info["status_message"] for info in infos] == ["", "", "", FAILURE, FAILURE]
    # updated_at moves only when the status changes
    assert infos[1]["updated_at"] > infos[0]["updated_at"]
    assert infos[2]["updated_at"] == infos[1]["updated_at"] < infos[3]["updated_at"] == infos[4]["updated_at"]


def test_status_lookups(console: Console) -> None:
    a, b = console.start_one("team/clean", "1.0"), console.start_one("team/stuck", "1.0")
    both = console.status(a, "nosuchscan", b).json()["statuses"]
    assert sorted(both) == sorted([a, b])
    assert [both[a]["status"], console.status(a).json()["statuses"][a]["status"]] == [
        "STARTING",
        "IN_PROGRESS",
    ]
    unknown = console.status("nosuchscan")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Node unknown not found")
    bulk = console.start(console.sim.dataset.image("team/flaky").node_id).json()["bulk_scan_id"]
    only_bulk = console.status(a, b, bulk_scan_id=bulk).json()["statuses"]  # a non-empty bulk id wins
    assert [info["node_name"].split(":")[0] for info in only_bulk.values()] == ["team/flaky"]
    missing_bulk = console.status(a, bulk_scan_id="3f1e0000-0000-4000-8000-000000000000")
    assert missing_bulk.json()["message"] == "Node 3f1e0000-0000-4000-8000-000000000000 not found"


def test_stop_cancels_starting_scans_at_once_and_running_ones_in_steps(console: Console) -> None:
    starting = console.start_one("team/clean", "1.0")
    running = console.start_one("team/stuck", "1.0")
    done = console.start_one("team/cancelled", "1.0")
    console.statuses(running, 2)
    console.statuses(done, 3)
    stopped = console.stop(starting, running, done, "nosuchscan")
    assert (stopped.status_code, stopped.content) == (202, b"")
    assert console.statuses(starting, 2) == ["CANCELLED", "CANCELLED"]
    assert console.statuses(running, 4) == ["CANCEL_PENDING", "CANCELLING", "CANCELLED", "CANCELLED"]
    assert console.statuses(done, 1) == ["CANCELLED"]
    restarted = console.start(console.sim.dataset.image("team/stuck").node_id).json()["scan_ids"]
    assert restarted != [running]


def test_stop_only_touches_the_scan_type_it_names(console: Console) -> None:
    scan_id = console.start_one("team/clean", "1.0")
    console.stop(scan_id, scan_type="SecretScan")
    assert console.statuses(scan_id, 1) == ["STARTING"]
    with console.invalid_requests():
        assert console.stop(scan_id, scan_type="Vulnerability").status_code == 400


def list_scans(console: Console, node_ids: list[str], **filters: Any) -> Any:
    body = {
        "node_ids": [{"node_id": node_id, "node_type": "image"} for node_id in node_ids],
        "fields_filter": fields_filter(**filters),
        "window": {"offset": 0, "size": 0},
    }
    return console.post("/scan/list/vulnerability", body).json()["scans_info"]


def test_list_orders_by_update_and_counts_complete_scans_only(contract: SpecContract) -> None:
    console = Console(ConsoleSimulator(clock=SteppingClock()), contract)
    console.login()
    demo, older = (
        console.sim.dataset.image("team/app", "1.4.2"),
        console.sim.dataset.image("team/app", "1.4.1"),
    )
    first = console.complete("team/app", "1.4.2")
    second = console.start_one("team/app", "1.4.2")
    third = console.complete("team/app", "1.4.1")
    infos = list_scans(console, [demo.node_id, older.node_id])
    assert [info["scan_id"] for info in infos] == [first, second, third]
    assert [info["severity_counts"] for info in infos] == [
        {"critical": 3, "high": 9, "medium": 15, "low": 11, "unknown": 6},
        {},
        {"medium": 12, "low": 10, "unknown": 4},
    ]
    newest_first = list_scans(console, [demo.node_id, older.node_id], order=[("updated_at", True)])
    assert [info["scan_id"] for info in newest_first] == [third, second, first]
    complete = list_scans(console, [demo.node_id], contains={"status": ["COMPLETE"]})
    assert [info["scan_id"] for info in complete] == [first]
    assert [info["scan_id"] for info in list_scans(console, [])] == [first, second, third]
    assert list_scans(console, ["nosuchnode"]) is None  # a nil Go slice
