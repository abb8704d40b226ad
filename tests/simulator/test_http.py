"""HTTP-level behaviour: routing, bodies, injected faults, the request record and real sockets."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, serve, serve_forever
from ci_scan.simulator import server as server_module
from tests.simulator.helpers import Console, fields_filter

STATUS = "/deepfence/scan/status/vulnerability"


def test_ping_is_public_plain_text(anonymous: Console) -> None:
    with anonymous.off_spec():  # the route exists on the server but not in the spec
        response = anonymous.http.get("/deepfence/ping")
    assert (response.status_code, response.text) == (200, "pong")
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/deepfence/nothing/here", 404),
        ("POST", "/deepfence/registryaccount/", 404),
        ("GET", "/deepfence/scan/status/vulnerability", 405),
        ("DELETE", "/deepfence/auth/token", 405),
    ],
)
def test_unknown_routes_and_methods(anonymous: Console, method: str, path: str, status: int) -> None:
    with anonymous.off_spec():
        response = anonymous.http.request(method, path)
    assert response.status_code == status
    if status == 404:
        assert response.json()["message"] == "404 page not found"
    else:
        assert (response.headers["allow"], response.content) == ("POST", b"")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "EOF"),
        (b"{not json", "invalid character in request body: Expecting property name"),
        (b"[]", "json: cannot unmarshal array into Go value of type model.ScanStatusReq"),
        (b'{"scan_ids": [], "bulk_scan_id": 5}', "json: cannot unmarshal number 5 into Go struct field"),
        (b'{"scan_ids": [], "bulk_scan_id": "' + b"x" * 1_000_001 + b'"}', "http: request body too large"),
    ],
)
def test_undecodable_bodies_are_400s(console: Console, body: bytes, message: str) -> None:
    with console.invalid_requests():
        response = console.http.post(STATUS, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"].startswith(message) and response.json()["error_fields"] is None


def test_injected_faults_come_first_then_the_real_answer(console: Console) -> None:
    scan_id = console.start_one("team/clean", "1.0")
    console.sim.inject(STATUS, 503, times=2)
    console.sim.inject(STATUS, 200, body="not json")
    with console.off_spec():
        first, second, third = (console.status(scan_id) for _ in range(3))
    assert [first.status_code, second.status_code] == [503, 503]
    assert first.json() == {"message": "simulated failure 503", "error_fields": None, "error_index": None}
    assert (third.status_code, third.text, third.headers["content-type"]) == (
        200,
        "not json",
        "application/json",
    )
    assert console.status(scan_id).json()["statuses"][scan_id]["status"] == "STARTING"  # faults do not poll


def test_faults_preempt_authentication_and_can_carry_json(anonymous: Console) -> None:
    anonymous.sim.inject("/deepfence/scan/start/vulnerability", 409, body={"message": "deadlock"})
    with anonymous.off_spec():
        conflict = anonymous.http.post("/deepfence/scan/start/vulnerability")
        afterwards = anonymous.http.post("/deepfence/scan/start/vulnerability")
    assert (conflict.status_code, conflict.json()) == (409, {"message": "deadlock"})
    assert (afterwards.status_code, afterwards.text) == (401, "no token found\n")


def test_requests_are_recorded_as_sent(console: Console) -> None:
    scan_id = console.start_one("team/clean", "1.0")
    console.status(scan_id)
    method, path, headers, body = console.sim.requests[-1]
    assert (method, path) == ("POST", STATUS)
    assert headers["authorization"].startswith("Bearer ey") and headers["content-type"] == "application/json"
    assert console.sim.requests[-1].json() == {"scan_ids": [scan_id], "bulk_scan_id": ""}
    assert body == b'{"scan_ids":["%s"],"bulk_scan_id":""}' % scan_id.encode()  # the bytes httpx sent
    login = console.sim.requests[0]
    assert (login.path, login.json()) == ("/deepfence/auth/token", {"api_token": ADMIN_TOKEN})
    assert [r.path for r in console.sim.requests] == [
        "/deepfence/auth/token",
        "/deepfence/scan/start/vulnerability",
        STATUS,
    ]


def test_serving_over_real_http() -> None:
    sim = ConsoleSimulator()
    with serve(sim, port=0) as running:
        assert running.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=running.url) as client:
            assert client.get("/deepfence/ping").text == "pong"
            token = client.post("/deepfence/auth/token", json={"api_token": ADMIN_TOKEN}).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            assert len(client.get("/deepfence/registryaccount").json()) == 3
            body = {"registry_id": "quay-acme-3", "image_filter": fields_filter(),
                    "image_stub_filter": fields_filter(), "window": {"offset": 0, "size": 0}}  # fmt: skip
            assert client.post("/deepfence/registryaccount/images", json=body).json()[0]["docker_image_name"] == (
                "tool"
            )
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/deepfence/ping", timeout=2)
    assert [r.path for r in sim.requests][-2:] == [
        "/deepfence/registryaccount",
        "/deepfence/registryaccount/images",
    ]


def test_concurrent_clients_over_real_http() -> None:
    sim = ConsoleSimulator()
    repositories = ["team/clean", "team/flaky", "team/app", "team/broken", "team/cancelled", "team/stuck"]
    outcomes: dict[str, str] = {}

    def scan(repository: str, url: str) -> None:
        with httpx.Client(base_url=url) as client:
            token = client.post("/deepfence/auth/token", json={"api_token": ADMIN_TOKEN}).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            node_id = sim.dataset.image(repository).node_id
            filters = {key: {"filter_in": None} for key in
                       ("image_scan_filter", "container_scan_filter", "host_scan_filter",
                        "cloud_account_scan_filter", "kubernetes_cluster_scan_filter")}  # fmt: skip
            started = client.post("/deepfence/scan/start/vulnerability", json={
                "node_ids": [{"node_id": node_id, "node_type": "image"}], "filters": filters,
                "scan_config": [{"language": "base"}]}).json()  # fmt: skip
            scan_id = started["scan_ids"][0]
            for _ in range(6):
                status = client.post(STATUS, json={"scan_ids": [scan_id], "bulk_scan_id": ""}).json()
            outcomes[repository] = status["statuses"][scan_id]["status"]

    with serve(sim) as running:
        threads = [threading.Thread(target=scan, args=(repository, running.url)) for repository in repositories]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert outcomes == {
        "team/clean": "COMPLETE", "team/flaky": "COMPLETE", "team/app": "COMPLETE",
        "team/broken": "ERROR", "team/cancelled": "CANCELLED", "team/stuck": "IN_PROGRESS",
    }  # fmt: skip
    assert len(sim.requests) == len(repositories) * 8


def test_serve_forever_stops_quietly_on_ctrl_c(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    calls: list[str] = []

    def interrupted(self: Any, poll_interval: float = 0.5) -> None:
        calls.append(f"serving {self.server_address[0]}")
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module._ThreadingWSGIServer, "serve_forever", interrupted)
    really_close = server_module._ThreadingWSGIServer.server_close

    def close(self: Any) -> None:
        calls.append("closed")
        really_close(self)

    monkeypatch.setattr(server_module._ThreadingWSGIServer, "server_close", close)
    serve_forever("127.0.0.1", 0)  # returns instead of raising
    assert calls == ["serving 127.0.0.1", "closed"]
    assert capsys.readouterr() == ("", "")
