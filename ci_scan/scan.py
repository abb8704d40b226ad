"""The scan lifecycle: resolve the target, start the scan, wait for it, fetch every finding."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ci_scan import registries
from ci_scan.client import ConsoleClient
from ci_scan.errors import (
    CiScanError,
    ConfigError,
    ConsoleResponseError,
    ConsoleUnreachable,
    NotFound,
    PermissionDenied,
    ScanFailed,
    ScanTimeout,
    TargetNotFound,
)
from ci_scan.models import Finding, ImageRef, ScanResult, ScanTarget
from ci_scan.wire import TERMINAL_FAILED, TERMINAL_OK, ImageNode, Registry, ResultsPage, ScanStatus

Progress = Callable[[str], None]

LANGUAGES = (
    "base", "java", "python", "ruby", "php", "javascript", "rust", "rust-binary", "golang",
    "golang-binary", "dotnet",
)
MAX_PAGE_SIZE = 1000
MAX_POLL_FAILURES = 5
SYNC_START_CHECKS = 3
"""Registry checks after which 'not syncing' is believed even if the sync was never seen running."""
"""Consecutive failed status checks tolerated (each already retried by the client)."""
_IMAGE_PAGE = 100


@dataclass(frozen=True)
class ScanOptions:
    timeout: float = 1800.0
    """Seconds for the whole wait: registry sync and scan."""
    registry: str | None = None
    sync: bool = False
    languages: tuple[str, ...] = LANGUAGES
    poll_initial: float = 2.0
    poll_max: float = 15.0
    heartbeat: float = 60.0
    page_size: int = MAX_PAGE_SIZE
    cancel_on_timeout: bool = False


class Scanner:
    """Runs one scan through a console client; time and sleep are injected so tests run instantly."""

    def __init__(
        self,
        client: ConsoleClient,
        options: ScanOptions,
        progress: Progress,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.options = options
        self.progress = progress
        self.clock = clock
        self.sleep = sleep
        self._deadline = 0.0

    def scan_image(self, ref: ImageRef) -> ScanResult:
        self._deadline = self.clock() + self.options.timeout
        self.client.wait_until(self._deadline, self.clock)
        scan_id = ""
        try:
            self.client.authenticate()
            target = self.resolve_image(ref)
            scan_id = self.start(target)
            try:
                self.wait(scan_id)
            except _JoinedCancelledScan:
                self.progress(f"Scan {scan_id} was being cancelled when this run joined it; starting a new one")
                scan_id = self.start(target)
                self.wait(scan_id)
        except ScanTimeout:
            self.client.wait_until(None)
            if self.options.cancel_on_timeout and scan_id:
                self._stop(scan_id)
            raise
        self.client.wait_until(None)  # the scan is done: fetching its findings is not cut short
        return self.fetch(target, scan_id)

    def _stop(self, scan_id: str) -> None:
        self.progress(f"Stopping scan {scan_id}")
        try:
            self.client.stop_scans([scan_id])
        except CiScanError as exc:  # best effort: the timeout is what the run reports
            self.progress(f"Warning: could not stop scan {scan_id}: {exc}")

    # -- target -----------------------------------------------------------------------------------

    def resolve_image(self, ref: ImageRef) -> ScanTarget:
        registry, name = self._registry_for(ref)
        image, known = self._find_image(registry, name, ref)
        if image is None and self.options.sync:
            self._sync(registry)
            image, known = self._find_image(registry, name, ref)
        if image is None:
            raise TargetNotFound(self._missing_image_message(registry, name, ref, known))
        self.progress(f"Found {ref} on the console: image {image.node_id[:12]} in registry {registry.name}")
        return ScanTarget(
            node_id=image.node_id, node_type="image", name=str(ref),
            registry_id=registry.node_id, image=ref,
        )

    def _registry_for(self, ref: ImageRef) -> tuple[Registry, str]:
        known = self.client.list_registries()
        if self.options.registry:
            chosen = registries.select(known, self.options.registry)
            if chosen is None:
                raise ConfigError(
                    f"--registry {self.options.registry!r} matches no registry account on the console "
                    f"(known: {_registry_names(known)})"
                )
            return chosen, registries.console_name(chosen, ref)
        matches = registries.find(known, ref)
        if not matches:
            raise TargetNotFound(
                f"no registry account on the console serves {ref.registry_host} "
                f"(known: {_registry_names(known)})",
                hint="add the registry in the console, or name one with --registry",
            )
        if len(matches) > 1:
            names = ", ".join(f"{m.registry.name} ({m.registry.node_id})" for m in matches)
            raise ConfigError(
                f"{ref.registry_host} matches {len(matches)} registry accounts on the console: {names}; "
                "choose one with --registry"
            )
        return matches[0].registry, matches[0].console_name

    def _find_image(
        self, registry: Registry, name: str, ref: ImageRef
    ) -> tuple[ImageNode | None, list[ImageNode]]:
        """The image node for `ref`, and the repository's images when they had to be listed."""
        known: list[ImageNode] = []
        if ref.digest:
            wanted = {ref.digest_hex, ref.digest}
            known = self._all_images(registry, name)
            found = [i for i in known if {i.node_id, i.image_id} & wanted]
        else:
            tagged = self.client.list_images(registry.node_id, name, tag_entry=f"{name}:{ref.tag}")
            found = [i for i in tagged if i.name == name and ref.tag in i.tags]
            if not found:  # a console that filters tags differently: look through the whole repository
                known = self._all_images(registry, name)
                found = [i for i in known if ref.tag in i.tags]
        if len(found) > 1:
            ids = ", ".join(sorted(i.node_id[:12] for i in found))
            raise ConfigError(f"{ref} matches {len(found)} images on the console ({ids}); give its digest")
        return (found[0] if found else None), known

    def _all_images(self, registry: Registry, name: str) -> list[ImageNode]:
        images: dict[str, ImageNode] = {}
        offset = 0
        while True:
            page = self.client.list_images(registry.node_id, name, offset=offset, size=_IMAGE_PAGE)
            offset += _IMAGE_PAGE
            before = len(images)
            images.update((i.node_id, i) for i in page)
            if len(page) < _IMAGE_PAGE or len(images) == before:
                return [i for i in images.values() if i.name == name]

    def _missing_image_message(self, registry: Registry, name: str, ref: ImageRef, known: list[ImageNode]) -> str:
        if not known:
            return f"{ref} is not on the console: registry {registry.name} has no repository {name!r}" + (
                "" if self.options.sync else "; if it was pushed recently, pass --sync"
            )
        wanted = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag!r}"
        tags = sorted({t for i in known for t in i.tags})
        shown = ", ".join(tags[:10]) + (", ..." if len(tags) > 10 else "")
        advice = "" if self.options.sync else "; a registry sync may be needed: pass --sync"
        return f"{ref} is not on the console: {name} has no {wanted} (known tags: {shown}){advice}"

    def _sync(self, registry: Registry) -> None:
        self.progress(f"Syncing registry {registry.name} so the console sees new tags...")
        try:
            self.client.sync_registry(registry.node_id)
        except PermissionDenied as exc:
            self.progress(f"Warning: {exc.one_line()}; looking the image up without a sync")
            return
        interval = self.options.poll_initial
        seen_syncing, checks = False, 0
        while True:
            current = next((r for r in self.client.list_registries() if r.node_id == registry.node_id), None)
            if current is None:
                raise TargetNotFound(f"registry {registry.name} disappeared from the console during sync")
            checks += 1
            seen_syncing = seen_syncing or current.is_syncing
            # The sync runs asynchronously: "not syncing" right after the request may mean "not started yet".
            if not current.is_syncing and (seen_syncing or checks >= SYNC_START_CHECKS):
                self.progress(f"Registry {registry.name} synced")
                return
            interval = self._pause(interval, f"the sync of registry {registry.name}")

    # -- scan -------------------------------------------------------------------------------------

    def start(self, target: ScanTarget) -> str:
        scan_ids, _bulk = self.client.start_vulnerability_scan(
            target.node_id, target.node_type, self.options.languages
        )
        if not scan_ids:
            raise ScanFailed(
                f"the console started no scan for {target.name}",
                hint="it skips Deepfence system images and nodes whose agent is not running",
            )
        self.progress(f"Scan {scan_ids[0]} started for {target.name}")
        return scan_ids[0]

    def wait(self, scan_id: str) -> ScanStatus:
        started = self.clock()
        last_status = ""
        last_report = started
        interval = self.options.poll_initial
        failures = 0
        joined_cancelling = False
        while True:
            try:
                status = self.client.scan_statuses([scan_id]).get(scan_id)
                failures = 0
            except (ConsoleUnreachable, ConsoleResponseError) as exc:
                # A console restarting during a long scan: keep polling a little before giving up.
                transient = isinstance(exc, ConsoleUnreachable) or (exc.status or 0) >= 500
                failures += 1
                if not transient or failures > MAX_POLL_FAILURES:
                    raise
                self.progress(f"Status check failed ({exc}); trying again")
                interval = self._pause(interval, f"scan {scan_id}")
                continue
            if status is None:
                raise ConsoleResponseError(f"the console's status reply does not mention scan {scan_id}")
            now = self.clock()
            if not last_status:  # the first answer: did the console hand back a scan being cancelled?
                joined_cancelling = status.status in ("CANCEL_PENDING", "CANCELLING")
            if status.status != last_status:
                message = f": {status.message}" if status.message else ""
                self.progress(f"Scan status {status.status}{message} ({now - started:.0f}s)")
                last_status, last_report = status.status, now
            elif now - last_report >= self.options.heartbeat:
                self.progress(f"Still {status.status} after {now - started:.0f}s")
                last_report = now
            if status.status == TERMINAL_OK:
                return status
            if status.status == "CANCELLED" and joined_cancelling:
                raise _JoinedCancelledScan(f"scan {scan_id} was cancelled before this run joined it")
            if status.status in TERMINAL_FAILED:
                reason = f": {status.message}" if status.message else ""
                raise ScanFailed(f"scan {scan_id} ended {status.status}{reason}")
            interval = self._pause(interval, f"scan {scan_id} (last status {status.status})")

    def _pause(self, interval: float, waiting_for: str) -> float:
        """Sleep until the next poll; the interval grows to the cap. Raises at the deadline."""
        remaining = self._deadline - self.clock()
        self.sleep(max(0.0, min(interval, remaining)))
        if remaining <= interval:
            raise ScanTimeout(f"timed out after {self.options.timeout:g}s waiting for {waiting_for}")
        return min(interval * 1.5, self.options.poll_max)

    # -- findings ---------------------------------------------------------------------------------

    def fetch(self, target: ScanTarget, scan_id: str) -> ScanResult:
        warnings: list[str] = []
        expected = self._count(scan_id, warnings)
        findings: dict[str, Finding] = {}
        size = self.options.page_size
        pages = 0
        while True:
            page = self.client.results_page(scan_id, offset=pages * size, size=size)
            pages += 1
            added = _collect(findings, page)
            # A short page ends the list; a page with nothing new means the console ignores the window.
            if len(page.findings) < size or not added:
                break
        if expected is not None and len(findings) < expected:
            # Paging was not stable on this console: ask for everything at once (window size 0).
            self.progress(f"Paging returned {len(findings)} of {expected} findings; fetching them in one request")
            page = self.client.results_page(scan_id, offset=0, size=0)
            pages += 1
            _collect(findings, page)
        if expected is not None and len(findings) != expected:
            warnings.append(f"the console counted {expected} findings but returned {len(findings)} distinct ones")
        result = ScanResult(
            target=target,
            scan_id=scan_id,
            findings=tuple(sorted(findings.values(), key=lambda f: f.sort_key)),
            console_url=self.client.console_url,
            console_counts=dict(page.severity_counts),
            started_at_ms=page.created_at_ms,
            finished_at_ms=page.updated_at_ms,
        )
        ours = {s.label: n for s, n in result.counts().items()}
        if any(ours.get(k, 0) != v for k, v in result.console_counts.items()):
            warnings.append(
                f"the console's severity counts {result.console_counts} differ from the findings fetched {ours}"
            )
        for warning in warnings:
            self.progress(f"Warning: {warning}")
        self.progress(f"Fetched {len(findings)} findings in {pages} page(s)")
        return replace(result, warnings=tuple(warnings))

    def _count(self, scan_id: str, warnings: list[str]) -> int | None:
        """The console's own total, to check paging against; None when the console cannot say."""
        try:
            return self.client.count_results(scan_id)
        except (NotFound, ConsoleResponseError) as exc:
            warnings.append(f"could not count the findings to check paging: {exc}")
            return None


def _collect(findings: dict[str, Finding], page: ResultsPage) -> int:
    """Adds the page's findings not seen yet; returns how many were new."""
    before = len(findings)
    for finding in page.findings:
        findings.setdefault(finding.result_id or "\x1f".join(finding.key), finding)
    return len(findings) - before


class _JoinedCancelledScan(ScanFailed):
    """The console handed back a scan that someone was cancelling (it deduplicates unfinished scans)."""


def _registry_names(known: list[Registry]) -> str:
    return ", ".join(f"{r.name} ({r.node_id})" for r in known) or "none"
