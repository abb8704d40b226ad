"""Every exchange of a full conversation, successes and each error status, validated against the spec."""

from __future__ import annotations

import uuid

import pytest
from openapi_core.validation.response.exceptions import InvalidData

from ci_scan.simulator import ADMIN_TOKEN, READONLY_TOKEN, STANDARD_TOKEN, make_api_token
from tests.contract import SpecContract
from tests.simulator.helpers import Console, fields_filter


def test_a_whole_conversation_matches_the_spec(console: Console, contract: SpecContract) -> None:
    before = contract.checked
    registry_id = console.registry_id("example-registry")
    by_tag = fields_filter(contains_in_array_filter={"filter_in": {"docker_image_tag_list": ["team/app:1.4.2"]}})
    stub = fields_filter({"docker_image_name": ["team/app"]})
    images = console.images(registry_id, by_tag, stub).json()
    assert [image["docker_image_tag_list"] for image in images] == [["team/app:1.4.2", "team/app:latest"]]
    count = console.post(
        "/registryaccount/count/images",
        {"registry_id": registry_id, "image_filter": by_tag, "image_stub_filter": stub,
         "window": {"offset": 0, "size": 0}},
    )  # fmt: skip
    assert count.json() == {"count": 1}
    assert console.post(f"/registryaccount/{registry_id}/sync", None).status_code == 200

    started = console.start(images[0]["node_id"])
    assert started.status_code == 202
    scan_id = started.json()["scan_ids"][0]
    statuses = [console.status(scan_id).json()["statuses"][scan_id]["status"] for _ in range(4)]
    assert statuses == ["STARTING", "IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    assert console.results(scan_id).json()["vulnerabilities"] == []  # the SBOM is built, nothing matched
    assert console.sbom(scan_id).status_code == 500
    by_bulk = console.status(bulk_scan_id=started.json()["bulk_scan_id"]).json()
    assert list(by_bulk["statuses"]) == [scan_id]
    assert console.statuses(scan_id, 1) == ["COMPLETE"]  # the last batch has landed
    sbom = console.sbom(scan_id)
    assert sbom.status_code == 200 and {p["cve_id"] for p in sbom.json()} - {""}

    page = console.results(scan_id, {"masked": [False]}, [("cve_severity", True)], window=(0, 10)).json()
    assert len(page["vulnerabilities"]) == 10
    assert page["severity_counts"] == {"critical": 3, "high": 9, "medium": 15, "low": 11, "unknown": 6}
    assert console.results(scan_id, path="/scan/results/count/vulnerability").json()["count"] == 45

    listed = console.post(
        "/scan/list/vulnerability",
        {"node_ids": [{"node_id": images[0]["node_id"], "node_type": "image"}],
         "fields_filter": fields_filter(), "window": {"offset": 0, "size": 0}},
    )  # fmt: skip
    assert [info["scan_id"] for info in listed.json()["scans_info"]] == [scan_id]

    stuck = console.start_one("team/stuck", "1.0")
    stopped = console.stop(stuck)
    assert (stopped.status_code, stopped.content) == (202, b"")

    tokens = console.login()
    refreshed = console.http.post(
        "/deepfence/auth/token/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert refreshed.status_code == 200
    assert contract.checked - before == 21


def test_error_responses_match_the_spec(console: Console, contract: SpecContract) -> None:
    before = contract.checked
    unknown_key = make_api_token("acme", uuid.UUID(int=7))
    assert console.http.post("/deepfence/auth/token", json={"api_token": unknown_key}).status_code == 500
    assert console.http.post("/deepfence/auth/token", json={"api_token": "not a key!"}).status_code == 400
    with console.invalid_requests():
        assert console.post("/scan/start/vulnerability", {"node_ids": []}).status_code == 400
        assert console.post("/scan/status/vulnerability", {"scan_ids": "x"}).status_code == 400
    assert console.start("nosuchnode").status_code == 404
    assert console.start(console.sim.dataset.image("team/notag").node_id).status_code == 500
    assert console.status("nosuchscan").status_code == 404
    assert console.results("nosuchscan").status_code == 404
    assert console.sbom("nosuchscan").status_code == 404
    with console.invalid_requests():
        assert console.post("/scan/sbom", {"scan_id": 7}).status_code == 400
    assert console.images("docker_hub-nobody-99").status_code == 404
    access_as_refresh = console.http.post("/deepfence/auth/token/refresh")
    assert (access_as_refresh.status_code, access_as_refresh.text) == (401, "token is unauthorized\n")
    del console.http.headers["Authorization"]
    with console.invalid_requests():  # the spec requires a bearer token
        anonymous = console.http.get("/deepfence/registryaccount")
        assert (anonymous.status_code, anonymous.text) == (401, "no token found\n")
    console.login(READONLY_TOKEN)
    forbidden_start = console.start("anything")
    console.login(STANDARD_TOKEN)
    forbidden_sync = console.post("/registryaccount/docker_hub-acme-2/sync", None)
    for forbidden in (forbidden_start, forbidden_sync):
        assert (forbidden.status_code, forbidden.content) == (403, b"")
    assert contract.checked - before == 17


def test_the_contract_catches_a_missing_required_field(console: Console) -> None:
    console.sim.inject("/deepfence/auth/token", 200, body={"access_token": "only one of the two"})
    with pytest.raises(InvalidData):
        console.http.post("/deepfence/auth/token", json={"api_token": ADMIN_TOKEN})


def test_the_contract_checks_scores_so_the_400_digit_one_really_passes(console: Console) -> None:
    scan_id = console.complete("team/hostile", "1.0")
    reply = console.results(scan_id).json()  # checked, with its 400-digit cve_cvss_score
    reply["vulnerabilities"][0]["cve_cvss_score"] = "9.8"
    console.sim.inject("/deepfence/scan/results/vulnerability", 200, body=reply)
    with pytest.raises(InvalidData):
        console.results(scan_id)


def test_the_contract_catches_a_body_where_the_spec_declares_none(console: Console) -> None:
    console.sim.inject("/deepfence/scan/stop/vulnerability", 202, body="accepted")
    with pytest.raises(AssertionError):
        console.stop()
