"""The default dataset: what each image holds, determinism, and generation cost."""

from __future__ import annotations

from collections import Counter

import pytest

from ci_scan.simulator import ADMIN_TOKEN, Dataset, Image, Registry, default_dataset

DEMO = {"critical": 3, "high": 9, "medium": 15, "low": 11, "unknown": 6}


@pytest.mark.parametrize(
    ("repository", "tag", "unmasked", "masked", "scenario"),
    [
        ("team/app", "1.4.2", DEMO, {"critical": 1}, "normal"),
        ("team/app", "latest", DEMO, {"critical": 1}, "normal"),
        ("team/app", "1.4.1", {"medium": 12, "low": 10, "unknown": 4}, {"critical": 2, "high": 1}, "normal"),
        ("team/clean", "1.0", {}, {}, "normal"),
        ("team/flaky", "1.0", {"high": 4, "medium": 7, "low": 5}, {}, "flaky"),
        ("team/broken", "1.0", {"high": 2, "medium": 4}, {}, "error"),
        ("team/system", "1.0", {"low": 1}, {}, "skipped"),
        ("app", "2.0", {"high": 2, "medium": 3, "low": 1}, {}, "normal"),
    ],
)  # fmt: skip
def test_images_hold_the_documented_findings(
    repository: str, tag: str, unmasked: dict[str, int], masked: dict[str, int], scenario: str
) -> None:
    image = default_dataset().image(repository, tag)
    findings = image.findings()
    assert Counter(f["cve_severity"] for f in findings if not f["masked"]) == Counter(unmasked)
    assert Counter(f["cve_severity"] for f in findings if f["masked"]) == Counter(masked)
    assert image.scenario == scenario


def test_the_big_image_is_cheap_distinct_and_mostly_unmasked() -> None:
    image = default_dataset().image("team/big")
    assert image._findings is None  # built on first use only
    findings = image.findings()
    assert len(findings) == 20_000
    assert len({(f["cve_id"], f["cve_caused_by_package"], f["cve_caused_by_package_path"]) for f in findings}) == 20_000
    assert sum(f["masked"] for f in findings) == 100
    assert image.findings() is findings  # built once


def test_the_dataset_is_deterministic_and_every_copy_is_fresh() -> None:
    first, second = default_dataset(), default_dataset()
    assert [i.digest for r in first.registries for i in r.images] == [
        i.digest for r in second.registries for i in r.images
    ]
    assert first.image("team/app", "1.4.2").findings() == second.image("team/app", "1.4.2").findings()
    first.registries[0].synced = True
    assert not second.registries[0].synced
    digests = {i.digest for r in first.registries for i in r.images}
    assert len(digests) == 20 and all(d.startswith("sha256:") and len(d) == 71 for d in digests)


def test_lookups() -> None:
    dataset = default_dataset()
    fresh = dataset.image("team/fresh", "2.0")
    assert fresh.visible_after_sync and dataset.locate(fresh.node_id) is None  # hidden until a sync
    registry, image = dataset.locate(dataset.image("tool").node_id) or (None, None)
    assert (registry and registry.name, image and image.tags) == ("acme-quay", ["1.0"])
    assert dataset.registry("quay-acme-3") is registry and dataset.registry("quay-acme-4") is None
    with pytest.raises(KeyError):
        dataset.image("team/app", "9.9.9")


def test_explicit_digests_and_users_are_kept() -> None:
    image = Image("svc", ["1"], digest="sha256:" + "0" * 64)
    dataset = Dataset([Registry(4, "r", "docker_hub", {"docker_hub_namespace": "me"}, [image])], users=[])
    assert image.node_id == "0" * 64
    assert dataset.user(ADMIN_TOKEN) is None  # no default users when the dataset names none
