"""A registry of any size, for load tests: deterministic, cheap to build, findings made on first use."""

from __future__ import annotations

import random

from .data import EPOCH_MS, Image, Registry

BULK_REGISTRY_ID = 4
_MINUTE_MS = 60_000


def _severities(rng: random.Random) -> dict[str, int]:
    counts = {"critical": rng.randint(0, 2), "high": rng.randint(0, 5), "medium": rng.randint(1, 9),
              "low": rng.randint(0, 8)}  # fmt: skip
    return {severity: n for severity, n in counts.items() if n}


def scale_images(n: int, seed: int = 0) -> list[Image]:
    """`n` images in repositories `bulk/svc-000`, `bulk/svc-001`, ... of 3 to 6 tags each.

    A repository's tags are `1.0.0`, `1.1.0`, ... pushed in that order, the newest also tagged (last)
    `latest`, except that every fifth repository has no `latest` and in every fourth `1.0.0` was
    rebuilt after the others, so `recent` and `latest` pick different images there. Every third image
    has findings.
    """
    rng = random.Random(seed)
    images: list[Image] = []
    repository = 0
    while len(images) < n:
        size = min(rng.randint(3, 6), n - len(images))
        name = f"bulk/svc-{repository:03d}"
        for minor in range(size):
            tags = [f"1.{minor}.0"]
            if minor == size - 1 and repository % 5 != 4:
                tags.append("latest")
            severities = _severities(rng) if len(images) % 3 == 0 else {}
            images.append(Image(name, tags, severities, pushed_at=EPOCH_MS + len(images) * _MINUTE_MS))
        if repository % 4 == 3 and size > 1:
            images[-size].pushed_at = images[-1].pushed_at + _MINUTE_MS
        repository += 1
    return images


def scale_registry(n: int = 500, *, registry_id: int = BULK_REGISTRY_ID, seed: int = 0) -> Registry:
    """The `bulk-registry` account (a private registry at https://bulk.example.com) with `n` images."""
    if n < 0:
        raise ValueError(f"n must not be negative, not {n}")
    non_secret = {"docker_registry_url": "https://bulk.example.com", "docker_username": "bulk-bot"}
    return Registry(registry_id, "bulk-registry", "docker_private_registry", non_secret, scale_images(n, seed))
