"""Request bodies for the node endpoints (search, counts, topology delta, scan starts of every kind)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.simulator.helpers import SCAN_FILTER_KEYS, Console, fields_filter

START_MS = 1_750_000_000_000
"""The console time the test simulators start at."""


class FakeClock:
    """Console time that moves only when a test moves it."""

    def __init__(self, now: float = START_MS / 1000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def search_body(
    contains: dict[str, list[Any]] | None = None,
    order: list[tuple[str, bool]] | None = None,
    window: tuple[int, int] = (0, 0),
    in_fields: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `SearchSearchNodeReq`; the inner window is sent but, as on the console, does nothing."""
    return {
        "node_filter": {
            "filters": fields_filter(contains, order, **extra),
            "in_field_filter": in_fields,
            "window": {"offset": 0, "size": 1},
        },
        "window": {"offset": window[0], "size": window[1]},
    }


def search(console: Console, what: str, **options: Any) -> list[dict[str, Any]]:
    response = console.post(f"/search/{what}", search_body(**options))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def names(console: Console, what: str, **options: Any) -> list[str]:
    key = "host_name" if what == "hosts" else "docker_container_name"
    return [str(node[key]) for node in search(console, what, **options)]


def count(console: Console, what: str, **options: Any) -> int:
    response = console.post(f"/search/count/{what}", search_body(**options))
    assert response.status_code == 200, response.text
    assert response.json()["categories"] == {}
    found: int = response.json()["count"]
    return found


def delta(console: Console, cursor: tuple[int, int] = (0, 0), labels: tuple[str, ...] = ("Node", "Container"),
          addition: bool = True, deletion: bool = True) -> dict[str, Any]:  # fmt: skip
    body = {"addition": addition, "addition_timestamp": cursor[0], "deletion": deletion,
            "deletion_timestamp": cursor[1], "entity_types": list(labels)}  # fmt: skip
    response = console.post("/graph/topology/delta", body)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def added(reply: dict[str, Any]) -> list[tuple[str, str]]:
    return [(node["node_id"], node["node_type"]) for node in reply["additons"]]


def deleted(reply: dict[str, Any]) -> list[tuple[str, str]]:
    return [(node["node_id"], node["node_type"]) for node in reply["deletions"]]


def cursor_of(reply: dict[str, Any]) -> tuple[int, int]:
    return reply["addition_timestamp"], reply["deletion_timestamp"]


def start(console: Console, kind: str, *node_ids: str, node_type: str = "host", **options: Any) -> httpx.Response:
    """A start of any kind; only the vulnerability one carries `scan_config`."""
    body: dict[str, Any] = {
        "node_ids": [{"node_id": node_id, "node_type": node_type} for node_id in node_ids],
        "filters": {key: {"filter_in": None} for key in SCAN_FILTER_KEYS},
        **options,
    }
    if kind == "vulnerability":
        body["scan_config"] = [{"language": "base"}, {"language": "python"}]
    return console.post(f"/scan/start/{kind}", body)


def statuses(console: Console, kind: str, scan_id: str, polls: int) -> list[str]:
    body = {"scan_ids": [scan_id], "bulk_scan_id": ""}
    return [console.post(f"/scan/status/{kind}", body).json()["statuses"][scan_id]["status"] for _ in range(polls)]
