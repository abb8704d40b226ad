"""What the endpoint handlers share: the inventory, the scans, a clock and a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .data import Dataset
from .scans import ScanBook
from .tokens import ApiUser


@dataclass
class ConsoleState:
    dataset: Dataset
    clock: Callable[[], float]
    rng: random.Random
    sync_polls: int
    """How many GET /registryaccount calls report is_syncing=true after a sync starts."""
    matching_polls: int = 2
    """How many status polls after the first COMPLETE the findings take to land (0: none, all at once)."""
    scans: ScanBook = field(default_factory=ScanBook)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


@dataclass(frozen=True)
class Call:
    """One authenticated (or public) request, decoded."""

    user: ApiUser | None
    body: dict[str, Any]
    params: dict[str, str]
