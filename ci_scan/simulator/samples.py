"""The default dataset: one image per behaviour a CI gate has to cope with.

Secret and malware findings (high, medium or low) are on a few images only; every other image, and
team/clean above all, has none of either. The hosts and containers agents report are in node_samples.py.
"""

from __future__ import annotations

from .data import EPOCH_MS, Dataset, Image, Registry
from .node_samples import default_containers, default_hosts
from .scale import scale_registry

_MINUTE_MS = 60_000


def _private_images() -> list[Image]:
    images = [
        # The demo image: fails a critical gate (3 critical; a 4th critical is masked). Five secrets (an AWS
        # key in /app/.env, a private key in /root/.ssh/id_rsa, a GitHub token...; a sixth is masked) and one
        # malware finding (the EICAR test file).
        Image(
            "team/app",
            ["1.4.2", "latest"],
            {"critical": 3, "high": 9, "medium": 15, "low": 11, "unknown": 6},
            masked={"critical": 1},
            secrets={"high": 3, "medium": 1, "low": 1},
            masked_secrets={"medium": 1},
            malware={"high": 1},
        ),
        # Only masked criticals/highs: passes --fail-on critical and --fail-on high; so do its secrets and
        # malware (a masked high secret, a masked medium malware finding).
        Image(
            "team/app",
            ["1.4.1"],
            {"medium": 12, "low": 10, "unknown": 4},
            masked={"critical": 2, "high": 1},
            secrets={"low": 1},
            masked_secrets={"high": 1},
            masked_malware={"medium": 1},
        ),
        Image("team/clean", ["1.0"]),
        Image("team/flaky", ["1.0"], {"high": 4, "medium": 7, "low": 5}, scenario="flaky", secrets={"medium": 1}),
        # Every kind of scan of it ends in ERROR, the secret and malware ones with half their findings in.
        Image("team/broken", ["1.0"], {"high": 2, "medium": 4}, scenario="error", secrets={"high": 1, "low": 1},
              malware={"medium": 1}),
        Image("team/cancelled", ["1.0"], {"medium": 3}, scenario="cancelled"),
        Image("team/deleted", ["1.0"], {"low": 2}, scenario="delete_pending"),
        Image("team/stuck", ["1.0"], {"medium": 2}, scenario="stuck"),
        Image(
            "team/big",
            ["1.0"],
            {"critical": 250, "high": 2400, "medium": 8000, "low": 6500, "unknown": 2750},
            masked={"critical": 10, "high": 40, "medium": 50},
        ),
        Image("team/fresh", ["2.0"], {"high": 2, "medium": 3}, visible_after_sync=True),
        Image("team/system", ["1.0"], {"low": 1}, scenario="skipped"),
        Image("team/notag", []),
        # COMPLETE with no findings, for good: the runtime SBOM is never written (no registry id).
        Image("team/never-matched", ["1.0"], {"high": 3, "medium": 2}, scenario="never_matched"),
        # Matched, yet the results say `vulnerabilities: null` beside {"critical": 2}.
        Image("team/contradictory", ["1.0"], {"critical": 2}, scenario="contradictory"),
        # One tag, two digests (linux/amd64 and linux/arm64), each with its own findings.
        Image("team/multiarch", ["1.0"], {"high": 2, "medium": 1}, platform="linux/amd64"),
        Image("team/multiarch", ["1.0"], {"critical": 1, "low": 2}, platform="linux/arm64"),
        # Package names with a lone surrogate, ANSI escapes and "\n::add-mask::x"; a 400-digit score.
        Image("team/hostile", ["1.0"], {"high": 2, "medium": 2, "low": 1}, scenario="hostile_text"),
        # Reports IN_PROGRESS again between the first COMPLETE and the final one.
        Image("team/slow-match", ["1.0"], {"high": 3, "low": 2}, scenario="slow_matching"),
    ]
    # 1.4.1 was pushed before 1.4.2; every other image a minute after the previous one.
    order = [1, 0, *range(2, len(images))]
    for position, index in enumerate(order):
        images[index].pushed_at = EPOCH_MS + position * _MINUTE_MS
    return images


def _fault_images(pushed_at: int) -> list[Image]:
    """Off-spec scan behaviour, only with `fault_images`: other tests count the default registry's images."""
    # Reports QUEUED_REMOTE, a status the console does not define, twice between STARTING and IN_PROGRESS.
    return [Image("team/queued-remote", ["1.0"], {"medium": 2, "low": 1}, scenario="unknown_status",
                  pushed_at=pushed_at)]


def default_dataset(extra_images: int = 0, fault_images: bool = False) -> Dataset:
    """A fresh, mutable copy of the sample console (findings are generated on first use).

    `extra_images` > 0 adds the `bulk-registry` account (see `scale_registry`) holding that many images.
    `fault_images` adds to `example-registry` the images whose scans go outside the spec (`_fault_images`).
    """
    private = _private_images()
    if fault_images:
        private += _fault_images(max(image.pushed_at for image in private) + _MINUTE_MS)
    dataset = Dataset(
        registries=[
            Registry(
                1,
                "example-registry",
                "docker_private_registry",
                {"docker_registry_url": "https://registry.example.com", "docker_username": "ci-bot"},
                private,
            ),
            Registry(
                2,
                "acme-hub",
                "docker_hub",
                {"docker_hub_namespace": "acme", "docker_hub_username": "acme-ci"},
                [Image("app", ["2.0"], {"high": 2, "medium": 3, "low": 1}, secrets={"high": 1, "medium": 2},
                       malware={"high": 2, "medium": 1, "low": 1})],
            ),
            Registry(
                3,
                "acme-quay",
                "quay",
                {"quay_namespace": "acme", "quay_registry_url": "https://quay.io"},
                [Image("tool", ["1.0"], {"medium": 2, "low": 3})],
            ),
        ]
    )
    dataset.hosts = default_hosts()
    dataset.containers = default_containers(dataset.image("team/app", "1.4.2"))
    if extra_images > 0:
        dataset.registries.append(scale_registry(extra_images))
    return dataset
