"""Registry accounts, their images with the console's filter semantics, and registry sync."""

from __future__ import annotations

from typing import Any

import pytest

from ci_scan.simulator import ConsoleSimulator, Image, Registry
from tests.contract import SpecContract
from tests.simulator.helpers import Console, fields_filter

PRIVATE = "docker_private_registry-ci-bot-1"
VISIBLE_PRIVATE = [
    "team/app:1.4.2", "team/app:1.4.1", "team/clean:1.0", "team/flaky:1.0", "team/broken:1.0",
    "team/cancelled:1.0", "team/deleted:1.0", "team/stuck:1.0", "team/big:1.0", "team/system:1.0",
    "team/notag:<none>", "team/never-matched:1.0", "team/contradictory:1.0", "team/multiarch:1.0",
    "team/multiarch:1.0", "team/hostile:1.0", "team/slow-match:1.0",
]  # fmt: skip
APP = ["team/app:1.4.2", "team/app:1.4.1"]


def names(images: list[dict[str, Any]]) -> list[str]:
    return [f"{image['docker_image_name']}:{image['docker_image_tag_list'][0].split(':')[1]}"
            if image["docker_image_tag_list"] else f"{image['docker_image_name']}:<none>"
            for image in images]  # fmt: skip


def test_registries_are_listed_with_node_ids_and_only_non_secret_fields(console: Console) -> None:
    registries = console.http.get("/deepfence/registryaccount").json()
    assert [(r["id"], r["node_id"], r["name"], r["registry_type"], r["is_syncing"]) for r in registries] == [
        (1, PRIVATE, "example-registry", "docker_private_registry", False),
        (2, "docker_hub-acme-2", "acme-hub", "docker_hub", False),
        (3, "quay-acme-3", "acme-quay", "quay", False),
    ]
    assert registries[0]["non_secret"] == {
        "docker_registry_url": "https://registry.example.com",
        "docker_username": "ci-bot",
        "is_public": False,
    }
    assert set(registries[1]["non_secret"]) == {"docker_hub_namespace", "docker_hub_username", "is_public"}
    assert registries[2]["non_secret"] == {"quay_namespace": "acme", "quay_registry_url": "https://quay.io"}


def test_registry_node_ids_escape_the_namespace() -> None:
    harbor = Registry(7, "h", "harbor", {"harbor_project_name": "team/a:b+c"})
    assert harbor.node_id == "harbor-team_a_b_c-7"
    assert harbor.non_secret == {
        "harbor_project_name": "team/a:b+c",
        "harbor_registry_url": "",
        "harbor_username": "",
    }
    with pytest.raises(ValueError, match="not non-secret fields"):
        Registry(8, "e", "ecr", {"aws_secret_access_key": "hunter2"})
    with pytest.raises(ValueError, match="unknown registry_type"):
        Registry(9, "x", "artifactory", {})


def test_images_carry_digest_ids_and_console_names(console: Console) -> None:
    images = console.images(PRIVATE).json()
    assert names(images) == VISIBLE_PRIVATE
    demo = images[0]
    digest = console.sim.dataset.image("team/app", "1.4.2").digest
    assert demo["node_id"] == digest.removeprefix("sha256:") and len(demo["node_id"]) == 64
    assert demo["docker_image_tag"] == "latest"  # the last tag written for the digest
    assert demo["docker_image_tag_list"] == ["team/app:1.4.2", "team/app:latest"]
    assert demo["node_name"] == f"team/app:latest ({demo['node_id'][:12]})"
    untagged = images[VISIBLE_PRIVATE.index("team/notag:<none>")]
    assert untagged["docker_image_tag"] == "<none>" and untagged["docker_image_tag_list"] == []
    assert [i["docker_image_name"] for i in console.images("docker_hub-acme-2").json()] == ["app"]
    assert [i["docker_image_name"] for i in console.images("quay-acme-3").json()] == ["tool"]


def in_array(**filter_in: list[Any]) -> dict[str, Any]:
    return fields_filter(contains_in_array_filter={"filter_in": filter_in})


@pytest.mark.parametrize(
    ("image_filter", "stub_filter", "expected"),
    [
        (in_array(docker_image_tag_list=["team/app:1.4.1"]), None, ["team/app:1.4.1"]),
        (None, fields_filter({"docker_image_name": ["team/app"]}), APP),
        (fields_filter({"docker_image_tag": ["latest", "1.4.1"]}), None, APP),
        (fields_filter({"docker_image_name": ["team/app"], "docker_image_tag": ["1.0"]}), None, []),
        (fields_filter({"docker_image_name": []}), None, []),  # IN [] matches nothing
        (fields_filter({"node_type": ["host"]}), None, []),
        (fields_filter(match_filter={"filter_in": {"docker_image_name": ["fla", "bro"]}}), None,
         ["team/flaky:1.0", "team/broken:1.0"]),
        (fields_filter(match_in_array_filter={"filter_in": {"docker_image_tag_list": [":lat"]}}), None,
         ["team/app:1.4.2"]),
        (fields_filter(not_contains_filter={"filter_in": {"docker_image_tag": ["1.0"]}}), None,
         ["team/app:1.4.2", "team/app:1.4.1", "team/notag:<none>"]),
        (in_array(docker_image_tag_list=["team/multiarch:1.0"]), None, ["team/multiarch:1.0"] * 2),
        (fields_filter(order=[("docker_image_name", True)]),
         fields_filter({"docker_image_name": ["team/app", "team/big"]}), ["team/big:1.0", *APP]),
    ],
)  # fmt: skip
def test_image_filters_follow_the_console_semantics(
    console: Console,
    image_filter: dict[str, Any] | None,
    stub_filter: dict[str, Any] | None,
    expected: list[str],
) -> None:
    assert names(console.images(PRIVATE, image_filter, stub_filter).json()) == expected


def test_the_window_pages_and_the_count_is_taken_after_it(console: Console) -> None:
    assert names(console.images(PRIVATE, window=(2, 3)).json()) == VISIBLE_PRIVATE[2:5]
    assert names(console.images(PRIVATE, window=(10, 0)).json()) == VISIBLE_PRIVATE[10:]

    def count(offset: int, size: int) -> int:
        body = {"registry_id": PRIVATE, "image_filter": fields_filter(), "image_stub_filter": fields_filter(),
                "window": {"offset": offset, "size": size}}  # fmt: skip
        counted: int = console.post("/registryaccount/count/images", body).json()["count"]
        return counted

    assert (count(0, 0), count(0, 3), count(14, 5)) == (17, 3, 3)


def test_an_unknown_registry_is_a_404(console: Console) -> None:
    response = console.images("docker_hub-nobody-42")
    assert response.status_code == 404
    assert response.json()["message"] == "Node docker_hub-nobody-42 not found"
    assert console.post("/registryaccount/docker_hub-nobody-42/sync", None).status_code == 404


def test_a_fresh_tag_appears_only_once_a_sync_has_finished(console: Console) -> None:
    def fresh_visible() -> bool:
        return "team/fresh:2.0" in names(console.images(PRIVATE).json())

    def syncing() -> bool:
        registries = console.http.get("/deepfence/registryaccount").json()
        return bool(next(r for r in registries if r["node_id"] == PRIVATE)["is_syncing"])

    assert not fresh_visible()
    started = console.post(f"/registryaccount/{PRIVATE}/sync", None)
    assert (started.status_code, started.json()) == (200, {"message": "started sync registry"})
    assert [syncing(), fresh_visible(), syncing(), fresh_visible()] == [True, False, True, False]
    assert [syncing(), fresh_visible(), syncing()] == [False, True, False]


def test_sync_length_is_configurable(contract: SpecContract) -> None:
    console = Console(ConsoleSimulator(sync_polls=0), contract)
    console.login()
    console.post(f"/registryaccount/{PRIVATE}/sync", None)
    assert [r["is_syncing"] for r in console.http.get("/deepfence/registryaccount").json()] == [False] * 3
    assert "team/fresh" in [i["docker_image_name"] for i in console.images(PRIVATE).json()]


def test_images_report_their_latest_scan(console: Console) -> None:
    def demo() -> dict[str, Any]:
        return next(i for i in console.images(PRIVATE).json() if i["docker_image_tag"] == "latest")

    assert (demo()["vulnerability_scan_status"], demo()["vulnerability_latest_scan_id"]) == ("", "")
    scan_id = console.start_one("team/app", "1.4.2")
    assert (demo()["vulnerability_scan_status"], demo()["vulnerability_latest_scan_id"]) == (
        "STARTING",
        scan_id,
    )
    assert demo()["vulnerabilities_count"] == 0
    console.statuses(scan_id, 4)  # the first COMPLETE: nothing matched yet
    assert (demo()["vulnerability_scan_status"], demo()["vulnerabilities_count"]) == ("COMPLETE", 0)
    console.statuses(scan_id, 1)
    half = sum(not f["masked"] for f in console.sim.dataset.image("team/app", "1.4.2").findings()[:22])
    assert (demo()["vulnerability_scan_status"], demo()["vulnerabilities_count"]) == ("COMPLETE", half)
    console.statuses(scan_id, 1)
    assert (demo()["vulnerability_scan_status"], demo()["vulnerabilities_count"]) == ("COMPLETE", 44)


def test_a_custom_dataset_builds_from_the_same_blocks(contract: SpecContract) -> None:
    from ci_scan.simulator import Dataset

    registry = Registry(5, "gl", "gitlab", {"gitlab_registry_url": "https://registry.gitlab.example:5050",
                                            "gitlab_server_url": "https://gitlab.example"},
                        [Image("group/svc", ["v1"], {"high": 1}, digest="sha256:" + "ab" * 32)])  # fmt: skip
    console = Console(ConsoleSimulator(Dataset([registry])), contract)
    console.login()
    assert registry.node_id == "gitlab-https___registry.gitlab.example_5050-5"
    assert [i["node_id"] for i in console.images(registry.node_id).json()] == ["ab" * 32]
