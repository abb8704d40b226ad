"""The scaled registry (`scale_registry`, `default_dataset(extra_images=N)`, `serve --images N`) and
registry-wide scans on it: the keyword path, the plain path, bulk ids and deduplicated scans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

import ci_scan.simulator
from ci_scan.simulator import ConsoleSimulator, Dataset, Image, Registry, default_dataset, scale_registry
from tests.contract import SpecContract
from tests.simulator.helpers import Console, fields_filter

BULK = "docker_private_registry-bulk-bot-4"
PICKED = ["bulk/svc-003", "bulk/svc-004", "bulk/svc-010"]  # rebuilt 1.0.0; no `latest`; plain


@pytest.fixture
def bulk(contract: SpecContract) -> Iterator[Console]:
    console = Console(ConsoleSimulator(default_dataset(extra_images=500)), contract)
    console.login()
    yield console
    console.http.close()


def repository(console: Console, name: str) -> list[Image]:
    registry = console.sim.dataset.registry(BULK)
    assert registry is not None
    return [image for image in registry.images if image.repository == name]


def scanned_nodes(scan_ids: list[str]) -> list[str]:
    return [scan_id.rsplit("-", 1)[0] for scan_id in scan_ids]


def test_the_scaled_registry_is_lazy_and_deterministic() -> None:
    registry = scale_registry(n=500)
    assert len(registry.images) == 500 and all(image._findings is None for image in registry.images)  # lazy
    assert [i.digest for i in registry.images] == [i.digest for i in scale_registry(n=500).images]
    assert len({image.digest for image in registry.images}) == 500
    tags: dict[str, int] = {}
    for image in registry.images:
        tags[image.repository] = tags.get(image.repository, 0) + 1
    assert len(tags) > 80 and all(3 <= n <= 6 for n in list(tags.values())[:-1])
    with_findings = [image for image in registry.images if image.severities]
    assert 100 < len(with_findings) < 250
    assert sum(len(image.findings()) for image in with_findings) > 1_000
    other_seed = scale_registry(n=500, seed=1)
    assert [i.severities for i in other_seed.images] != [i.severities for i in registry.images]
    assert (registry.name, registry.node_id, registry.non_secret["docker_registry_url"]) == (
        "bulk-registry", BULK, "https://bulk.example.com")  # fmt: skip
    assert scale_registry(n=0).images == []
    with pytest.raises(ValueError, match="negative"):
        scale_registry(n=-1)


def test_extra_images_leave_the_sample_data_alone() -> None:
    plain, scaled = default_dataset(), default_dataset(extra_images=30)
    assert [r.name for r in scaled.registries] == ["example-registry", "acme-hub", "acme-quay", "bulk-registry"]
    assert [[i.digest for i in r.images] for r in plain.registries] == [
        [i.digest for i in r.images] for r in scaled.registries[:3]
    ]
    assert len(scaled.registries[3].images) == 30
    assert [r.name for r in default_dataset(extra_images=0).registries] == [r.name for r in plain.registries]


def test_the_bulk_registry_pages_over_the_api(bulk: Console) -> None:
    assert bulk.registry_id("bulk-registry") == BULK
    body = {"registry_id": BULK, "image_filter": fields_filter(), "image_stub_filter": fields_filter(),
            "window": {"offset": 0, "size": 0}}  # fmt: skip
    total = bulk.post("/registryaccount/count/images", body).json()
    assert total == {"count": 500}
    page = bulk.images(BULK, window=(490, 20)).json()
    assert len(page) == 10


@pytest.mark.parametrize("mode", ["latest", "recent", "all"])
def test_the_keyword_path_on_the_scaled_registry(bulk: Console, mode: str) -> None:
    started = bulk.start(BULK, node_type="registry", image_scan_filter={"docker_image_name": PICKED,
                                                                        "docker_image_tag": [mode]}).json()  # fmt: skip
    expected: list[str] = []
    for name in PICKED:
        images = repository(bulk, name)
        if mode == "all":
            expected += [image.node_id for image in images]
        elif mode == "latest":
            expected += [image.node_id for image in images if "latest" in image.tags]
        else:
            expected.append(max(images, key=lambda image: image.pushed_at).node_id)
    assert scanned_nodes(started["scan_ids"]) == expected
    statuses = bulk.status(bulk_scan_id=started["bulk_scan_id"]).json()["statuses"]  # scan_ids: []
    assert sorted(statuses) == sorted(started["scan_ids"])


def test_latest_and_recent_differ_where_an_old_tag_was_rebuilt(bulk: Console) -> None:
    def pick(mode: str) -> list[str]:
        keyword = {"docker_image_name": ["bulk/svc-003"], "docker_image_tag": [mode]}
        scan_ids: list[str] = bulk.start(BULK, node_type="registry", image_scan_filter=keyword).json()["scan_ids"]
        return scanned_nodes(scan_ids)

    images = {tuple(image.tags): image.node_id for image in repository(bulk, "bulk/svc-003")}
    assert (pick("latest"), pick("recent")) == ([images[("1.5.0", "latest")]], [images[("1.0.0",)]])


def test_the_plain_path_matches_tags_literally(bulk: Console) -> None:
    registry = bulk.sim.dataset.registry(BULK)
    assert registry is not None
    latest = [image.node_id for image in registry.images if image.tag == "latest"]
    started = bulk.start(BULK, node_type="registry", image_scan_filter={"docker_image_tag": ["latest"]}).json()
    assert scanned_nodes(started["scan_ids"]) == latest and len(latest) > 80  # one per repository with `latest`
    with bulk.off_spec():  # a long reply; the shape is checked on smaller ones
        statuses = bulk.post("/scan/status/vulnerability", {"scan_ids": [], "bulk_scan_id": started["bulk_scan_id"]})
    assert sorted(statuses.json()["statuses"]) == sorted(started["scan_ids"])
    for keyword in ("all", "recent"):  # without docker_image_name they are no keywords, just tag names
        nothing = bulk.start(BULK, node_type="registry", image_scan_filter={"docker_image_tag": [keyword]})
        assert nothing.status_code == 400
        assert nothing.json()["error_fields"] == {"node_ids": "nodes not found with the provided filters"}


def test_a_tag_literally_named_recent_is_matched_as_a_tag(contract: SpecContract) -> None:
    registry = Registry(6, "odd", "docker_hub", {"docker_hub_namespace": "odd"},
                        [Image("svc", ["recent"], pushed_at=1), Image("svc", ["2.0"], pushed_at=2)])  # fmt: skip
    console = Console(ConsoleSimulator(Dataset([registry])), contract)
    console.login()
    literal = {"docker_image_tag": ["recent"]}
    keyword = {"docker_image_name": ["svc"], "docker_image_tag": ["recent"]}
    by_tag = console.start(registry.node_id, node_type="registry", image_scan_filter=literal)
    by_keyword = console.start(registry.node_id, node_type="registry", image_scan_filter=keyword)
    assert scanned_nodes(by_tag.json()["scan_ids"]) == [registry.images[0].node_id]
    assert scanned_nodes(by_keyword.json()["scan_ids"]) == [registry.images[1].node_id]


def test_a_deduplicated_scan_joins_the_new_bulk(bulk: Console) -> None:
    images = repository(bulk, "bulk/svc-010")
    running = bulk.start(images[1].node_id).json()["scan_ids"][0]
    bulk.statuses(running, 2)  # IN_PROGRESS: unfinished
    keyword = {"docker_image_name": ["bulk/svc-010"], "docker_image_tag": ["all"]}
    started = bulk.start(BULK, node_type="registry", image_scan_filter=keyword).json()
    assert running in started["scan_ids"] and len(started["scan_ids"]) == len(images)
    statuses = bulk.status(bulk_scan_id=started["bulk_scan_id"]).json()["statuses"]
    assert sorted(statuses) == sorted(started["scan_ids"])
    assert statuses[running]["status"] == "IN_PROGRESS"


def test_a_whole_registry_of_500_images_is_polled_by_its_bulk_id(bulk: Console) -> None:
    started = bulk.start(BULK, node_type="registry", image_scan_filter=None).json()
    assert len(started["scan_ids"]) == len(set(started["scan_ids"])) == 500
    body: dict[str, Any] = {"scan_ids": [], "bulk_scan_id": started["bulk_scan_id"]}
    with bulk.off_spec():
        seen = [bulk.post("/scan/status/vulnerability", body).json()["statuses"] for _ in range(7)]
    assert all(len(statuses) == 500 for statuses in seen)
    assert {info["status"] for info in seen[-1].values()} == {"COMPLETE"}
    assert all(bulk.sim.state.scans.scans[scan_id].matched for scan_id in started["scan_ids"])


def test_serve_takes_an_images_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from ci_scan.cli import cli

    served: list[Dataset | None] = []
    monkeypatch.setattr(ci_scan.simulator, "serve_forever", lambda host, port, dataset=None: served.append(dataset))
    runner = CliRunner()
    assert runner.invoke(cli, ["simulator", "serve", "--images", "40"]).exit_code == 0
    assert runner.invoke(cli, ["simulator", "serve"], env={"CI_SCAN_SIMULATOR_IMAGES": "7"}).exit_code == 0
    assert runner.invoke(cli, ["simulator", "serve"]).exit_code == 0
    assert [[len(r.images) for r in d.registries if r.name == "bulk-registry"] for d in served if d] == [[40], [7], []]
    assert runner.invoke(cli, ["simulator", "serve", "--images", "-1"]).exit_code == 2
