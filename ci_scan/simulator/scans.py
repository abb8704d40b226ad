"""Vulnerability scans and how they progress: one step per status poll, never by wall clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .data import Image

STARTING = "STARTING"
IN_PROGRESS = "IN_PROGRESS"
COMPLETE = "COMPLETE"
ERROR = "ERROR"
CANCEL_PENDING = "CANCEL_PENDING"
CANCELLING = "CANCELLING"
CANCELLED = "CANCELLED"
DELETE_PENDING = "DELETE_PENDING"

FINISHED = frozenset({COMPLETE, ERROR, CANCELLED})
"""What the console counts as done when it deduplicates scans (DELETE_PENDING is not in it)."""
FAILURE_MESSAGE = "scan failed to complete, please check agent logs"

# The status each successive poll reports; the last one repeats forever.
TIMELINES: dict[str, tuple[str, ...]] = {
    "normal": (STARTING, IN_PROGRESS, IN_PROGRESS, COMPLETE),
    "flaky": (STARTING, IN_PROGRESS, STARTING, IN_PROGRESS, COMPLETE),
    "error": (STARTING, IN_PROGRESS, IN_PROGRESS, ERROR),
    "cancelled": (STARTING, IN_PROGRESS, CANCELLED),
    "stuck": (STARTING, IN_PROGRESS),
    "delete_pending": (STARTING, IN_PROGRESS, DELETE_PENDING),
    "skipped": (STARTING, IN_PROGRESS, IN_PROGRESS, COMPLETE),  # only when deepfence_system_scan is set
}


@dataclass
class Scan:
    scan_id: str
    image: Image
    timeline: tuple[str, ...]
    created_at: int
    updated_at: int
    polls: int = 0
    has_worked: bool = False
    """Whether the scanner ever picked the scan up (was IN_PROGRESS)."""

    @property
    def status(self) -> str:
        return self.timeline[min(self.polls, len(self.timeline) - 1)]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def advance(self, now_ms: int) -> None:
        """Called after a status poll has reported the current status."""
        before = self.status
        self.polls += 1
        self.has_worked = self.has_worked or self.status == IN_PROGRESS
        if self.status != before:
            self.updated_at = now_ms

    def stop(self, now_ms: int) -> None:
        """STARTING cancels at once, IN_PROGRESS goes through CANCEL_PENDING and CANCELLING."""
        if self.status == STARTING:
            self.timeline, self.polls = (CANCELLED,), 0
        elif self.status == IN_PROGRESS:
            self.timeline, self.polls = (CANCEL_PENDING, CANCELLING, CANCELLED), 0
        else:
            return
        self.updated_at = now_ms

    def ingested_findings(self) -> list[dict[str, Any]]:
        """What the scan has stored so far: all once COMPLETE, else half once it has worked at all."""
        findings = self.image.findings()
        if self.status == COMPLETE:
            return findings
        return findings[: len(findings) // 2] if self.has_worked else []

    def info(self, severity_counts: dict[str, int] | None) -> dict[str, Any]:
        """`ModelScanInfo`."""
        return {
            "scan_id": self.scan_id,
            "status": self.status,
            "status_message": FAILURE_MESSAGE if self.status == ERROR else "",
            "node_id": self.image.node_id,
            "node_name": self.image.node_name,
            "node_type": "image",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "severity_counts": severity_counts,
        }


@dataclass
class ScanBook:
    """Every scan started so far, and which bulk request started which scans."""

    scans: dict[str, Scan] = field(default_factory=dict)
    bulks: dict[str, list[str]] = field(default_factory=dict)

    def unfinished_for(self, node_id: str) -> Scan | None:
        return next((s for s in self.scans.values() if s.image.node_id == node_id and not s.finished), None)

    def start(self, image: Image, timeline: tuple[str, ...], now_ms: int) -> Scan:
        """A new scan with id `<node_id>-<unix seconds>`, the next free second if that id is taken."""
        seconds = now_ms // 1000
        while f"{image.node_id}-{seconds}" in self.scans:
            seconds += 1
        scan = Scan(f"{image.node_id}-{seconds}", image, timeline, now_ms, now_ms)
        self.scans[scan.scan_id] = scan
        image.latest_scan_id = scan.scan_id
        return scan

    def latest_status(self, image: Image) -> str:
        scan = self.scans.get(image.latest_scan_id)
        return scan.status if scan else ""
