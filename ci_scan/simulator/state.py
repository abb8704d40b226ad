"""What the endpoint handlers share: the inventory, the scans, a clock and a seeded RNG; which hosts and
containers exist at a given console time, and their properties."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .data import NOT_SCANNED, Dataset, Image, LatestScan
from .kinds import MALWARE, SECRET, VULNERABILITY, ScanKind
from .nodes import AgentNode, AgentNodes, ScanTarget
from .scans import COMPLETE, ScanBook
from .tokens import ApiUser

# What a node records of its latest scan of each kind: status, scan id and count properties.
_LATEST_FIELDS = (
    (VULNERABILITY, "vulnerability_scan_status", "vulnerability_latest_scan_id", "vulnerabilities_count"),
    (SECRET, "secret_scan_status", "secret_latest_scan_id", "secrets_count"),
    (MALWARE, "malware_scan_status", "malware_latest_scan_id", "malwares_count"),
)


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
    started_ms: int = 0
    """The console time (epoch ms) the simulator started at; nodes register relative to it."""
    ordered_rows: dict[tuple[str, str, int, str], list[Mapping[str, Any]]] = field(default_factory=dict)
    """Results already filtered and ordered, by (kind, scan id, findings stored, filter): a client pages
    through one order, and sorting 20,000 rows for each page made benchmarks measure the simulator."""
    counted_rows: dict[int, tuple[list[Mapping[str, Any]], dict[str, int]]] = field(default_factory=dict)
    """The severity counts of one of `ordered_rows`' lists (by object, which the entry keeps alive): every
    page of results carries them, and counting 100,000 rows for each page did too."""

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def book(self, kind: ScanKind) -> ScanBook:
        """The scans of this kind; each kind has its own, as the console's scan nodes have their own label."""
        return {SECRET: self.secret_scans, MALWARE: self.malware_scans}.get(kind, self.scans)

    @staticmethod
    def _latest(book: ScanBook, node: ScanTarget) -> LatestScan:
        scan = book.latest(node)
        return NOT_SCANNED if scan is None else (scan.status, scan.scan_id, sum(scan.severity_counts().values()))

    def image_record(self, image: Image) -> dict[str, Any]:
        """`ModelContainerImage`, with each kind's latest scan status and what it has counted so far."""
        status, _, count = self._latest(self.scans, image)
        secret, malware = self._latest(self.secret_scans, image), self._latest(self.malware_scans, image)
        return image.record(status, count, secret, malware)

    def created_at(self, node: AgentNode) -> int:
        return self.started_ms + node.registered_at_ms

    def nodes(self, label: str, now: int) -> list[AgentNodes]:
        """The hosts (label `Node`) or containers (`Container`) registered by `now`, active or not, oldest first."""
        every: list[AgentNodes] = [*self.dataset.hosts, *self.dataset.containers]
        known = [node for node in every if node.label == label and self.created_at(node) <= now]
        return sorted(known, key=self.created_at)

    def find_node(self, label: str, node_id: str, now: int) -> AgentNodes | None:
        return next((node for node in self.nodes(label, now) if node.node_id == node_id), None)

    def node_properties(self, node: AgentNodes, now: int) -> dict[str, Any]:
        """The node's Neo4j properties at `now`: what its agent reported, its timestamps, its latest scans
        (never-scanned nodes have no scan properties at all; a count shows while its scan is COMPLETE)."""
        properties = node.properties()
        properties["created_at"] = self.created_at(node)
        properties["updated_at"] = now if node.active else node.deactivated_at
        for kind, status_field, id_field, count_field in _LATEST_FIELDS:
            status, scan_id, count = self._latest(self.book(kind), node)
            if scan_id:
                properties.update({status_field: status, id_field: scan_id,
                                   count_field: count if status == COMPLETE else 0})  # fmt: skip
        return properties


@dataclass(frozen=True)
class Call:
    """One authenticated (or public) request, decoded."""

    user: ApiUser | None
    body: dict[str, Any]
    params: dict[str, str]
