"""Scans and how they progress: one step per status poll, never by wall clock.

A registry image vulnerability scan runs two worker tasks under one scan id (API_NOTES §5.1): the SBOM
task ends in COMPLETE before any vulnerability is matched, then the matching task lands the findings in
batches over the following polls and writes the runtime SBOM last, ending in COMPLETE for good. A secret
or malware scan is one task that streams its findings while it runs: all of them are in by its COMPLETE.
Agent scans of hosts and containers end in the same matching task, so they go the same way; a scan of a
node that has gone inactive waits in STARTING for an agent that never takes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .data import Scenario
from .findings import SEVERITIES
from .hostile import ANSI_STATUS_MESSAGE
from .kinds import VULNERABILITY, ScanKind
from .nodes import ScanTarget, info_type_of

STARTING = "STARTING"
IN_PROGRESS = "IN_PROGRESS"
COMPLETE = "COMPLETE"
ERROR = "ERROR"
CANCEL_PENDING = "CANCEL_PENDING"
CANCELLING = "CANCELLING"
CANCELLED = "CANCELLED"
DELETE_PENDING = "DELETE_PENDING"
QUEUED_REMOTE = "QUEUED_REMOTE"
"""Not a status the console defines (nor its spec's enum): only the "unknown_status" scenario reports it."""

FINISHED = frozenset({COMPLETE, ERROR, CANCELLED})
"""What the console counts as done when it deduplicates scans (DELETE_PENDING is not in it)."""
FAILURE_MESSAGE = "scan failed to complete, please check agent logs"

_NORMAL = (STARTING, IN_PROGRESS, IN_PROGRESS, COMPLETE)
# The status each successive poll reports until the SBOM task ends; the last one repeats forever.
TIMELINES: dict[str, tuple[str, ...]] = {
    "normal": _NORMAL,
    "flaky": (STARTING, IN_PROGRESS, STARTING, IN_PROGRESS, COMPLETE),
    "error": (STARTING, IN_PROGRESS, IN_PROGRESS, ERROR),
    "cancelled": (STARTING, IN_PROGRESS, CANCELLED),
    "stuck": (STARTING, IN_PROGRESS),
    "delete_pending": (STARTING, IN_PROGRESS, DELETE_PENDING),
    "skipped": _NORMAL,  # only when deepfence_system_scan is set
    "never_matched": _NORMAL,
    "contradictory": _NORMAL,
    "hostile_text": _NORMAL,
    "slow_matching": _NORMAL,
    "unknown_status": (STARTING, QUEUED_REMOTE, QUEUED_REMOTE, IN_PROGRESS, COMPLETE),
}
# What the polls between the first and the final COMPLETE report (COMPLETE unless named here).
_WHILE_MATCHING = {"slow_matching": IN_PROGRESS}
# The scenarios about the scan as a whole; the others are about vulnerability matching and findings.
SHARED_SCENARIOS = frozenset(
    {"normal", "flaky", "error", "cancelled", "stuck", "delete_pending", "skipped", "unknown_status"}
)


@dataclass(frozen=True)
class Step:
    """The scan between two status polls."""

    status: str
    landed: Fraction = Fraction(0)
    """The share of the image's findings stored so far."""
    matched: bool = False
    """Whether matching has finished and the runtime SBOM is written."""


def build_steps(scenario: Scenario, matching_polls: int) -> tuple[Step, ...]:
    """Every step a new scan goes through; the last one repeats forever.

    With `matching_polls` 0 the findings are all there at the first COMPLETE (half of them from the
    first IN_PROGRESS on); otherwise none land before COMPLETE, the poll that reports the first COMPLETE
    leaves none either, and each of the next `matching_polls` polls lands another batch.
    """
    statuses = TIMELINES[scenario]
    if scenario == "never_matched":  # an image without a registry id: no matching task ever runs
        return tuple(Step(status) for status in statuses)
    if matching_polls <= 0:
        steps, worked = [], False
        for status in statuses:
            worked = worked or status == IN_PROGRESS
            done = status == COMPLETE
            landed = Fraction(1) if done else Fraction(1, 2) if worked else Fraction(0)
            steps.append(Step(status, landed, matched=done))
        return tuple(steps)
    steps = [Step(status) for status in statuses]
    if statuses[-1] == COMPLETE:
        between = _WHILE_MATCHING.get(scenario, COMPLETE)
        steps += [Step(between, Fraction(batch, matching_polls)) for batch in range(matching_polls)]
        steps.append(Step(COMPLETE, Fraction(1), matched=True))
    return tuple(steps)


def steps_for(kind: ScanKind, scenario: Scenario, matching_polls: int) -> tuple[Step, ...]:
    """A new scan's steps: a secret or malware scan has half its findings by its first IN_PROGRESS and all at
    COMPLETE, and follows the image's scenario only where that is about the scan as a whole."""
    if kind is VULNERABILITY:
        return build_steps(scenario, matching_polls)
    return build_steps(scenario if scenario in SHARED_SCENARIOS else "normal", 0)


UNCLAIMED: tuple[Step, ...] = (Step(STARTING),)
"""The steps of a scan no agent picks up (its node is inactive)."""


@dataclass
class Scan:
    scan_id: str
    node: ScanTarget
    """The image, host or container scanned."""
    steps: tuple[Step, ...]
    created_at: int
    updated_at: int
    polls: int = 0
    kind: ScanKind = VULNERABILITY

    @property
    def step(self) -> Step:
        return self.steps[min(self.polls, len(self.steps) - 1)]

    @property
    def status(self) -> str:
        return self.step.status

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def matched(self) -> bool:
        return self.step.matched

    def advance(self, now_ms: int) -> None:
        """Called after a status poll has reported the current status; a status write moves updated_at."""
        before = self.step
        self.polls += 1
        after = self.step
        if (after.status, after.matched) != (before.status, before.matched):
            self.updated_at = now_ms

    def stop(self, now_ms: int) -> None:
        """STARTING cancels at once, IN_PROGRESS goes through CANCEL_PENDING and CANCELLING."""
        landed = self.step.landed
        if self.status == STARTING:
            statuses: tuple[str, ...] = (CANCELLED,)
        elif self.status == IN_PROGRESS:
            statuses = (CANCEL_PENDING, CANCELLING, CANCELLED)
        else:
            return
        self.steps, self.polls = tuple(Step(status, landed) for status in statuses), 0
        self.updated_at = now_ms

    def ingested_findings(self) -> list[dict[str, Any]]:
        """What the scan has stored so far, masked findings included."""
        findings = self.node.findings_of(self.kind.name)
        return findings[: int(len(findings) * self.step.landed)]

    def severity_counts(self) -> dict[str, int]:
        """The list reply's counts: unmasked findings stored so far, for COMPLETE scans only."""
        if self.status != COMPLETE:
            return {}
        return count_severities(self.ingested_findings(), self.kind.severity_field)

    def info(self, severity_counts: dict[str, int] | None) -> dict[str, Any]:
        """`ModelScanInfo`."""
        message = FAILURE_MESSAGE if self.status == ERROR else ""
        if self.node.scenario == "hostile_text" and self.kind is VULNERABILITY:
            message = ANSI_STATUS_MESSAGE
        return {
            "scan_id": self.scan_id,
            "status": self.status,
            "status_message": message,
            "node_id": self.node.node_id,
            "node_name": self.node.node_name,
            "node_type": info_type_of(self.node),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "severity_counts": severity_counts,
        }


def count_severities(findings: Iterable[Mapping[str, Any]], severity_field: str = "cve_severity") -> dict[str, int]:
    """Unmasked findings per severity; severities with none are left out."""
    counts = Counter(f[severity_field] for f in findings if not f["masked"])
    return {severity: counts[severity] for severity in SEVERITIES if counts[severity]}


@dataclass
class ScanBook:
    """Every scan of one kind started so far, and which bulk request started which scans."""

    scans: dict[str, Scan] = field(default_factory=dict)
    bulks: dict[str, list[str]] = field(default_factory=dict)
    by_node: dict[str, list[Scan]] = field(default_factory=dict)
    kind: ScanKind = VULNERABILITY

    def unfinished_for(self, node_id: str) -> Scan | None:
        return next((s for s in self.by_node.get(node_id, ()) if not s.finished), None)

    def start(self, node: ScanTarget, steps: tuple[Step, ...], now_ms: int) -> Scan:
        """A new scan with id `<node_id>-<unix seconds>`, the next free second if that id is taken."""
        seconds = now_ms // 1000
        while f"{node.node_id}-{seconds}" in self.scans:
            seconds += 1
        scan = Scan(f"{node.node_id}-{seconds}", node, steps, now_ms, now_ms, kind=self.kind)
        self.scans[scan.scan_id] = scan
        self.by_node.setdefault(node.node_id, []).append(scan)
        if self.kind is VULNERABILITY:
            node.latest_scan_id = scan.scan_id
        return scan

    def latest(self, node: ScanTarget) -> Scan | None:
        if self.kind is VULNERABILITY:
            return self.scans.get(node.latest_scan_id)
        scans = self.by_node.get(node.node_id)
        return scans[-1] if scans else None
