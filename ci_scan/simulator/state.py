"""What the endpoint handlers share: the inventory, the scans, a clock and a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .data import NOT_SCANNED, Dataset, Image, LatestScan
from .kinds import MALWARE, SECRET, ScanKind
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
    """The vulnerability scans."""
    secret_scans: ScanBook = field(default_factory=lambda: ScanBook(kind=SECRET))
    malware_scans: ScanBook = field(default_factory=lambda: ScanBook(kind=MALWARE))

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def book(self, kind: ScanKind) -> ScanBook:
        """The scans of this kind; each kind has its own, as the console's scan nodes have their own label."""
        return {SECRET: self.secret_scans, MALWARE: self.malware_scans}.get(kind, self.scans)

    def image_record(self, image: Image) -> dict[str, Any]:
        """`ModelContainerImage`, with each kind's latest scan status and what it has counted so far."""

        def latest(book: ScanBook) -> LatestScan:
            scan = book.latest(image)
            return NOT_SCANNED if scan is None else (scan.status, scan.scan_id, sum(scan.severity_counts().values()))

        status, _, count = latest(self.scans)
        return image.record(status, count, latest(self.secret_scans), latest(self.malware_scans))


@dataclass(frozen=True)
class Call:
    """One authenticated (or public) request, decoded."""

    user: ApiUser | None
    body: dict[str, Any]
    params: dict[str, str]
