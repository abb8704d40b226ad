"""A console client for the simulator tests whose every exchange is checked against the spec."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator
from tests.contract import BASE_URL, SpecContract

SCAN_FILTER_KEYS = (
    "image_scan_filter",
    "container_scan_filter",
    "host_scan_filter",
    "cloud_account_scan_filter",
    "kubernetes_cluster_scan_filter",
)


def fields_filter(
    contains: dict[str, list[Any]] | None = None,
    order: list[tuple[str, bool]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `ReportersFieldsFilters` with every required key, as the UI sends it."""
    body: dict[str, Any] = {
        "contains_filter": {"filter_in": contains or {}},
        "match_filter": {"filter_in": {}},
        "order_filter": {"order_fields": [{"field_name": n, "descending": d} for n, d in order or []]},
        "compare_filter": None,
    }
    body.update(extra)
    return body


class Console:
    """An httpx client of one simulator; each exchange is checked against the spec unless turned off."""

    def __init__(self, sim: ConsoleSimulator, contract: SpecContract) -> None:
        self.sim = sim
        self.contract = contract
        self.check_requests = True
        self.check_responses = True
        self.http = httpx.Client(
            transport=httpx.WSGITransport(app=sim),
            base_url=BASE_URL,
            event_hooks={"response": [self._check]},
        )

    def _check(self, response: httpx.Response) -> None:
        if self.check_responses:
            response.read()
            self.contract.check(response, request_too=self.check_requests)

    @contextmanager
    def invalid_requests(self) -> Iterator[None]:
        """For requests that break the spec on purpose; responses are still checked."""
        self.check_requests = False
        try:
            yield
        finally:
            self.check_requests = True

    @contextmanager
    def off_spec(self) -> Iterator[None]:
        """For exchanges the spec does not describe (ping, unknown paths, injected faults)."""
        self.check_requests = self.check_responses = False
        try:
            yield
        finally:
            self.check_requests = self.check_responses = True

    # The console's calls, spelled out.

    def login(self, api_token: str = ADMIN_TOKEN) -> dict[str, str]:
        response = self.http.post("/deepfence/auth/token", json={"api_token": api_token})
        assert response.status_code == 200, response.text
        tokens: dict[str, str] = response.json()
        self.http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        return tokens

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(f"/deepfence{path}", json=body)

    def registry_id(self, name: str) -> str:
        registries = self.http.get("/deepfence/registryaccount").json()
        return next(str(r["node_id"]) for r in registries if r["name"] == name)

    def images(
        self,
        registry_id: str,
        image_filter: dict[str, Any] | None = None,
        stub_filter: dict[str, Any] | None = None,
        window: tuple[int, int] = (0, 0),
    ) -> httpx.Response:
        return self.post(
            "/registryaccount/images",
            {
                "registry_id": registry_id,
                "image_filter": image_filter or fields_filter(),
                "image_stub_filter": stub_filter or fields_filter(),
                "window": {"offset": window[0], "size": window[1]},
            },
        )

    def start(
        self,
        *node_ids: str,
        node_type: str = "image",
        image_scan_filter: dict[str, list[Any]] | None = None,
        **options: Any,
    ) -> httpx.Response:
        filters: dict[str, dict[str, Any]] = {key: {"filter_in": None} for key in SCAN_FILTER_KEYS}
        filters["image_scan_filter"] = {"filter_in": image_scan_filter}
        body = {
            "node_ids": [{"node_id": node_id, "node_type": node_type} for node_id in node_ids],
            "filters": filters,
            "scan_config": [{"language": "base"}, {"language": "python"}],
            **options,
        }
        return self.post("/scan/start/vulnerability", body)

    def start_one(self, repository: str, tag: str) -> str:
        response = self.start(self.sim.dataset.image(repository, tag).node_id)
        assert response.status_code == 202, response.text
        scan_id: str = response.json()["scan_ids"][0]
        return scan_id

    def status(self, *scan_ids: str, bulk_scan_id: str = "") -> httpx.Response:
        body = {"scan_ids": list(scan_ids), "bulk_scan_id": bulk_scan_id}
        return self.post("/scan/status/vulnerability", body)

    def stop(self, *scan_ids: str, scan_type: str = "VulnerabilityScan") -> httpx.Response:
        return self.post("/scan/stop/vulnerability", {"scan_ids": list(scan_ids), "scan_type": scan_type})

    def statuses(self, scan_id: str, polls: int) -> list[str]:
        return [self.status(scan_id).json()["statuses"][scan_id]["status"] for _ in range(polls)]

    def sbom(self, scan_id: str) -> httpx.Response:
        return self.post("/scan/sbom", {"scan_id": scan_id})

    def settle(self, scan_id: str, polls: int = 12) -> list[str]:
        """Poll until the scan is COMPLETE and matched (its runtime SBOM answers 200); the statuses seen."""
        seen = []
        for _ in range(polls):
            seen.append(self.status(scan_id).json()["statuses"][scan_id]["status"])
            if seen[-1] == "COMPLETE" and self.sbom(scan_id).status_code == 200:
                return seen
        raise AssertionError(f"{scan_id} never settled: {seen}")

    def complete(self, repository: str, tag: str) -> str:
        """Start a scan and poll it to its final COMPLETE, when every finding has landed."""
        scan_id = self.start_one(repository, tag)
        self.settle(scan_id)
        return scan_id

    def results(
        self,
        scan_id: str,
        contains: dict[str, list[Any]] | None = None,
        order: list[tuple[str, bool]] | None = None,
        window: tuple[int, int] = (0, 0),
        path: str = "/scan/results/vulnerability",
        **extra: Any,
    ) -> httpx.Response:
        body = {
            "scan_id": scan_id,
            "fields_filter": fields_filter(contains, order, **extra),
            "window": {"offset": window[0], "size": window[1]},
        }
        return self.post(path, body)
