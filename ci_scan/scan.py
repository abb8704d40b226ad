"""The scan lifecycle for any number of targets: resolve, start, wait, settle, fetch.

One start request covers every target, and each poll round sends one status request, however many
targets there are. A target's scan that fails, times out or returns data that contradicts itself
becomes that target's result; only a console that cannot be used at all ends the whole run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ci_scan import registries
from ci_scan.baseline import Baseline, BaselineRequest
from ci_scan.choices import LANGUAGES, MAX_PAGE_SIZE
from ci_scan.errors import (
    CiScanError,
    ConfigError,
    ConsoleError,
    ConsoleResponseError,
    ConsoleUnreachable,
    Interrupted,
    NotFound,
    PermissionDenied,
    ScanTimeout,
    TargetNotFound,
)
from ci_scan.kinds import VULNERABILITY, ScanKind
from ci_scan.models import Finding, FindingKind, ImageRef, Package, RunResult, Target, TargetKind, TargetResult
from ci_scan.sanitize import for_log
from ci_scan.wire import (
    KNOWN_STATUSES,
    TERMINAL_FAILED,
    TERMINAL_OK,
    ImageNode,
    Registry,
    ResultsPage,
    SbomEntry,
    ScanStatus,
    StartReply,
)

if TYPE_CHECKING:
    from ci_scan.client import ConsoleClient

Progress = Callable[[str], None]

MAX_POLL_FAILURES = 5
"""Consecutive failed status checks tolerated (each already retried by the client)."""
SYNC_START_CHECKS = 3
"""Registry checks after which 'not syncing' is believed even if the sync was never seen running."""
IDS_PER_STATUS_REQUEST = 5000
"""Scan ids (about 80 bytes each) in one status request: well below the console's 1 MB body limit."""
MAX_NAMES_BYTES = 800_000
"""Repository names in one registry start: the console refuses bodies over about 1 MB."""
QUIET_OVER = 10
"""With more targets than this, progress is a line per round for all of them, not a line per target."""
REUSE_CLOCK_SLACK = 60.0
"""A scan that finished more than this 'in the future' says the clocks disagree: it is not reused."""
JOINED_SCAN_SLACK_MS = 2000
"""A scan id older than the start request by more than this was already running: the console joined it."""
STOP_GRACE = 5.0
"""Seconds past --timeout (or a signal) that stopping the run's scans may take: a CI runner sends SIGKILL
soon after SIGTERM."""
POLL_FLOOR = 1.0
"""The shortest pause between two status checks, whatever --poll-interval says: the console is shared."""
POLL_SHARE = 0.1
"""While scans run, the pause between status checks is this share of the time waited so far."""
_IMAGE_PAGE = 100
_CANCELLING = frozenset({"CANCEL_PENDING", "CANCELLING"})
UNKNOWN_STATUS_LIMIT = 180.0
"""Seconds a scan may report a status the console does not define before the run gives up on it."""


@dataclass(frozen=True)
class ScanOptions:
    timeout: float = 1800.0
    """Seconds for the whole wait: registry sync and scans."""
    registry: str | None = None
    sync: bool = False
    languages: tuple[str, ...] = LANGUAGES
    poll_initial: float = 2.0
    poll_max: float = 15.0
    poll_floor: float = POLL_FLOOR
    heartbeat: float = 60.0
    page_size: int = MAX_PAGE_SIZE
    cancel: bool = True
    """Stop the scans this run started when --timeout runs out or a signal stops the run (`--no-cancel`)."""
    max_parallel: int = 4
    """Targets whose findings are fetched at once."""
    reuse_within: float | None = None
    """Gate on the node's latest COMPLETE scan when it is younger than this many seconds."""
    settle_timeout: float = 120.0
    """How long a COMPLETE scan may go on without the console finishing its matching."""
    settle_time: float = 10.0
    """How long a finished scan's findings must stay unchanged before they are gated: the console
    writes findings in 10 s batches, and its runtime SBOM names only one CVE per package."""
    kind: ScanKind = VULNERABILITY
    """What this scanner scans for; a run of several kinds has a scanner per kind (`scan_kinds`)."""
    kinds: tuple[ScanKind, ...] = (VULNERABILITY,)
    """Every kind the run scans for (`--scan-type`)."""


@dataclass
class _Scan:
    """One target's scan while the run waits for it."""

    target: Target
    scan_id: str
    status: str = ""
    message: str = ""
    polled: bool = False
    joined_cancelling: bool = False
    complete_since: float | None = None
    said_settling: bool = False
    unknown_since: float | None = None
    """When the console first reported a status it does not define, while it still does."""
    landed: tuple[float, TargetResult] | None = None
    """When everything the runtime SBOM names had landed, and the findings then."""
    by_id: bool = False
    """Poll this scan by its id: the status reply of its bulk request did not include it."""
    bulk_id: str = ""
    ours: bool = False
    """This run started it: only then may the run restart or stop it."""
    attached: bool = False
    """The console handed back a scan that was already running."""
    notes: list[str] = field(default_factory=list)
    result: TargetResult | None = None

    def fail(self, error: str, *, outage: bool = False) -> None:
        """The scan could not be completed: the console failed (`outage`) or its data cannot be trusted."""
        self.result = TargetResult(target=self.target, scan_id=self.scan_id, status=self.status, error=error,
                                   notes=tuple(self.notes), outage=outage)

    def time_out(self) -> None:
        self.result = TargetResult(target=self.target, scan_id=self.scan_id, status=self.status, timed_out=True,
                                   notes=tuple(self.notes), outage=True)


class Scanner:
    """Runs the scans of one run through a console client; time and sleep are injected for tests."""

    def __init__(
        self,
        client: ConsoleClient,
        options: ScanOptions,
        progress: Progress,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        baseline: BaselineRequest | None = None,
        deadline: float | None = None,
    ) -> None:
        """`deadline` (a `clock()` value) ends the whole run, shared by the scanners of its scan kinds;
        without one, the run ends --timeout after it starts."""
        self.client = client
        self.baseline_request = baseline
        self.baseline: Baseline | None = None
        """The console baseline, fetched once the run has authenticated."""
        self.options = options
        self.kind = options.kind
        self.progress = progress
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        self._deadline = deadline
        self._registries: list[Registry] | None = None
        self._synced: set[str] = set()
        self._quiet = False
        self.started_ids: list[str] = []
        """Every scan this run started, as soon as the console answers: a signal may come before the rest."""

    def _detail(self, message: str) -> None:
        """A line about one target: said only while the run has few enough for such lines to be read."""
        if not self._quiet:
            self.progress(message)

    # -- the three ways into a run ---------------------------------------------------------------

    def scan_images(self, refs: Sequence[ImageRef]) -> RunResult:
        """Scan every image (each once), after making sure all of them are on the console."""
        return self.finish(self.start_images(refs))

    def scan_registry(self, wanted: str, tags: str = "latest", repositories: Sequence[str] = ()) -> RunResult:
        """Scan a registry's images, chosen by tag keyword and repository, with one start request."""
        return self.finish(self.start_registry(wanted, tags, repositories))

    def gate_existing(self, scan_ids: Sequence[str]) -> RunResult:
        """Gate scans that already exist (waiting for them if they still run); starts nothing."""
        return self.finish(self.start_existing(scan_ids))

    # A run of several kinds starts each kind's scans, then waits for each kind in turn: the console
    # runs them all at once, so the run takes about as long as the slowest.

    def start_images(self, refs: Sequence[ImageRef]) -> list[_Scan]:
        return self._begin(lambda: self._start_targets(self._resolve_all(refs)))

    def start_registry(self, wanted: str, tags: str = "latest", repositories: Sequence[str] = ()) -> list[_Scan]:
        return self._begin(lambda: self._start_registry(wanted, tags, repositories))

    def start_existing(self, scan_ids: Sequence[str]) -> list[_Scan]:
        return self._begin(lambda: self._existing(scan_ids))

    def start_nodes(self, node_type: str, names: Sequence[str], wait_for: float | None = None) -> list[_Scan]:
        """Scan hosts or containers the console's agents discovered, by name or node id."""
        return self._begin(lambda: self._start_nodes(node_type, names, wait_for))

    def start_all(self, node_types: Sequence[str], tags: str = "latest") -> list[_Scan]:
        """The sweep: every host whose agent runs, every container, and each registry's images by tag."""
        return self._begin(lambda: self._start_all(node_types, tags))

    def _start_all(self, node_types: Sequence[str], tags: str) -> list[_Scan]:
        from ci_scan.nodes import node_target

        scans: list[_Scan] = []
        for node_type in node_types:
            if node_type == "image":
                for registry in self._registry_list():
                    scans += self._sweep_registry(registry, tags)
                continue
            nodes = [n for n in self.client.all_nodes(node_type) if not n.system]  # not the agent's own containers
            running = [node_target(n) for n in nodes if n.agent_running]
            scans += self._start_targets(running) if running else []
            for node in nodes:
                if not node.agent_running:
                    skipped = _Scan(node_target(node), "")
                    skipped.fail("its agent is not running, so the console cannot scan it")
                    scans.append(skipped)
            self.progress(f"Selected {len(running)} {node_type}(s) of {len(nodes)}")
        return scans

    def _sweep_registry(self, registry: Registry, tags: str) -> list[_Scan]:
        try:
            return self._start_registry(registry.node_id, tags, ())
        except TargetNotFound as exc:  # an empty registry is no reason to stop the sweep
            self.progress(f"Registry {for_log(registry.name)}: {exc.one_line()}")
            return []

    def _start_nodes(self, node_type: str, names: Sequence[str], wait_for: float | None) -> list[_Scan]:
        from ci_scan.nodes import resolve

        wait = min(wait_for, max(0.0, self._remaining())) if wait_for else None
        found = resolve(self.client, node_type, names, wait_for=wait, progress=self.progress, clock=self.clock,
                        sleep=self.sleep)
        skipped = []
        for target, why in found.unscannable:
            scan = _Scan(target, "")
            scan.fail(why)
            skipped.append(scan)
        return (self._start_targets(list(found.targets)) if found.targets else []) + skipped

    def _begin(self, begin: Callable[[], list[_Scan]]) -> list[_Scan]:
        with self.client.deadline(self._run_deadline(), self.clock):
            self.client.authenticate()
            if self.baseline_request is not None:
                self.baseline = self._fetch_baseline(self.baseline_request)
            return begin()

    def _run_deadline(self) -> float:
        """The run's deadline: given, or --timeout from the first time it is asked for."""
        if self._deadline is None:
            self._deadline = self.clock() + self.options.timeout
        return self._deadline

    def _remaining(self) -> float:
        return self._run_deadline() - self.clock()

    def finish(self, scans: list[_Scan]) -> RunResult:
        """Wait for the scans started, and fetch their findings, all by the run's deadline."""
        try:
            with self.client.deadline(self._run_deadline(), self.clock):
                self._wait(scans)
        except ScanTimeout:
            self._time_out([s for s in scans if s.result is None])
        results = tuple(s.result for s in scans if s.result is not None)
        return RunResult(targets=results, console_url=self.client.console_url, scan_kinds=(self.kind.name,))

    def _record_started(self, reply: StartReply) -> None:
        self.started_ids += [i for i in reply.scan_ids if not _was_running(i.rpartition("-")[2], reply.console_time_ms)]

    def stop_started(self, scans: list[_Scan] | None, until: float) -> list[str]:
        """Best effort, by `until` (a clock value shared by every scan kind's stop): stop the scans this run
        started and that still run (never one it joined, reused or was asked to gate, nor one already
        finished); `scans` None: the run stopped while starting them. Returns the ids it asked to stop."""
        ids = (list(dict.fromkeys(self.started_ids)) if scans is None
               else [s.scan_id for s in scans if s.scan_id and s.ours and s.result is None
                     and s.status not in (TERMINAL_OK, *TERMINAL_FAILED)])
        if not ids or self.clock() >= until:
            return []
        self.progress(f"Stopping scan(s) {', '.join(ids)}")
        try:
            with self.client.deadline(until, self.clock):
                self.client.stop_scans(self.kind, ids)
        except Interrupted:
            raise  # a cancelled job outweighs whatever the stop was for
        except CiScanError as exc:  # best effort: what ended the wait is what the run reports
            self.progress(f"Warning: could not stop the scans: {exc}")
            return []
        return ids

    def _time_out(self, pending: list[_Scan]) -> None:
        self.progress(f"Timed out after {self.options.timeout:g}s with {len(pending)} scan(s) still running")
        until = self._run_deadline() + STOP_GRACE  # one grace for every kind's stop
        stopped = self.stop_started(pending, until) if self.options.cancel else []
        for scan in pending:
            if scan.scan_id in stopped:
                scan.notes.append(f"ci-scan asked the console to stop scan {for_log(scan.scan_id)}")
            scan.time_out()

    # -- the baseline -----------------------------------------------------------------------------

    def _fetch_baseline(self, request: BaselineRequest) -> Baseline:
        """The findings of the baseline scan, or of the latest COMPLETE scan of each node of the image."""
        if request.scan_id:
            try:
                status = self.client.scan_statuses(self.kind, [request.scan_id]).get(request.scan_id)
            except NotFound:
                status = None
            if status is None:
                raise ConfigError(f"--baseline-scan-id: the console has no {self.kind.name} scan {request.scan_id!r}")
            if status.status != TERMINAL_OK:
                raise ConfigError(f"--baseline-scan-id: scan {request.scan_id} is {status.status}, not "
                                  f"{TERMINAL_OK}: compare with a finished scan")
            findings = self._baseline_findings([(_status_target(status), status)], None, "--baseline-scan-id")
            self.progress(f"Baseline: scan {request.scan_id} with {len(findings)} findings")
            return Baseline.of(f"scan {request.scan_id}", findings, [request.scan_id])
        if request.image is None:
            raise AssertionError("a console baseline names a scan or an image")
        try:
            targets = self.resolve_image(request.image)
        except TargetNotFound as exc:  # a missing baseline is a usage error (exit 2), named as the baseline
            raise ConfigError(f"--baseline-image: {exc}", hint=exc.hint) from None
        found = []
        console_now_ms = None
        for target in targets:
            scan, console_now_ms = self.client.latest_scan(self.kind, target.node_id, target.node_type)
            if scan is not None:
                found.append((target, scan))
        if not found:
            raise ConfigError(f"--baseline-image: {request.image} has no {TERMINAL_OK} {self.kind.name} scan on the "
                              "console to compare with: scan it once, or run without a baseline")
        findings = self._baseline_findings(found, console_now_ms, "--baseline-image")
        ids = ", ".join(status.scan_id for _, status in found)
        self.progress(f"Baseline: the latest scan of {request.image} (scan {ids}) with {len(findings)} findings")
        return Baseline.of(f"the latest scan of {request.image}: scan {ids}", findings,
                           [status.scan_id for _, status in found], repository=targets[0].repository)

    def _baseline_findings(self, found: list[tuple[Target, ScanStatus]], console_now_ms: int | None,
                           option: str) -> list[Finding]:
        """The findings of COMPLETE baseline scans once the console has finished matching them (API_NOTES
        §5.1). A scan that finished long ago is fetched once, with its SBOM; a recent one settles as the
        run's own scans do."""
        now = console_now_ms / 1000 if console_now_ms is not None else self.wall_clock()
        findings: list[Finding] = []
        pending = []
        for target, status in found:
            old = status.updated_at_ms > 0 and now - status.updated_at_ms / 1000 >= self.options.settle_timeout
            if old:
                sbom = self.client.runtime_sbom(status.scan_id) if self.kind.has_sbom else []
                try:
                    result = self.fetch(target, status.scan_id)
                except _Contradiction as exc:  # results that contradict the console's counts: exit 3
                    raise ConsoleResponseError(f"{option}: {exc}") from None
                if sbom is not None and not _not_landed(sbom, result.findings):
                    findings += result.findings
                    continue
            pending.append(_Scan(target, status.scan_id, status=TERMINAL_OK))
        interval = self.options.poll_initial
        while unsettled := [scan for scan in pending if scan.result is None]:
            self._settle_all(unsettled)
            if any(scan.result is None for scan in unsettled):
                interval = self._pause(interval, "the baseline's findings")
                # Still COMPLETE? (A console may delete a scan meanwhile; the simulator lands findings per poll.)
                statuses = self.client.scan_statuses(self.kind, [scan.scan_id for scan in unsettled])
                for scan in unsettled:
                    now_status = statuses.get(scan.scan_id)
                    if now_status is None or now_status.status != TERMINAL_OK:
                        scan.fail(f"baseline scan {for_log(scan.scan_id)} is no longer {TERMINAL_OK}")
        for scan in pending:
            if scan.result is None or scan.result.timed_out:
                raise ScanTimeout(f"timed out fetching the findings of baseline scan {for_log(scan.scan_id)}")
            if scan.result.error:
                raise ConsoleResponseError(f"{option}: {scan.result.error}")
            findings += scan.result.findings
        return findings

    # -- images -----------------------------------------------------------------------------------

    def _resolve_all(self, refs: Sequence[ImageRef]) -> list[Target]:
        """Every image's targets; if any image is missing, says which (all of them) and starts nothing."""
        unique = list({str(ref): ref for ref in refs}.values())
        self._quiet = len(unique) > QUIET_OVER
        targets: dict[str, Target] = {}
        missing: list[str] = []
        for ref in unique:
            try:
                found = self.resolve_image(ref)
            except TargetNotFound as exc:
                missing.append(str(exc))
                continue
            for target in found:
                if target.node_id in targets:
                    self._detail(f"{ref} is the same image as {targets[target.node_id].name}: scanning it once")
                targets.setdefault(target.node_id, target)
        if missing:
            if len(unique) == 1:
                raise TargetNotFound(missing[0])
            raise TargetNotFound(
                f"{len(missing)} of {len(unique)} images are not on the console, so nothing was started: "
                + "; ".join(missing)
            )
        return list(targets.values())

    def resolve_image(self, ref: ImageRef) -> list[Target]:
        """The image nodes of `ref`: one, or one per architecture when a tag names several."""
        registry, name = self._registry_for(ref)
        if self.options.sync and registry.node_id not in self._synced:
            # First, so that a tag pushed again since the last sync resolves to its new digest.
            self._sync(registry)
            self._synced.add(registry.node_id)
        images, known = self._find_image(registry, name, ref)
        if not images:
            raise TargetNotFound(self._missing_image_message(registry, name, ref, known))
        ids = ", ".join(i.node_id[:12] for i in images)
        if len(images) > 1:
            self.progress(f"{ref} is {len(images)} images on the console ({ids}), e.g. one per architecture: "
                          "scanning all of them and gating on all their findings")
        else:
            self._detail(f"Found {ref} on the console: image {ids} in registry {for_log(registry.name)}")
        return [_image_target(image, ref, registry) for image in images]

    def _registry_list(self) -> list[Registry]:
        if self._registries is None:
            self._registries = self.client.list_registries()
        return self._registries

    def _registry_for(self, ref: ImageRef) -> tuple[Registry, str]:
        known = self._registry_list()
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
            names = ", ".join(f"{for_log(m.registry.name)} ({for_log(m.registry.node_id)})" for m in matches)
            raise ConfigError(
                f"{ref.registry_host} matches {len(matches)} registry accounts on the console: {names}; "
                "choose one with --registry"
            )
        return matches[0].registry, matches[0].console_name

    def _find_image(self, registry: Registry, name: str, ref: ImageRef) -> tuple[list[ImageNode], list[ImageNode]]:
        """The image nodes for `ref`, and the repository's images when they had to be listed."""
        known: list[ImageNode] = []
        if ref.digest:
            wanted = {ref.digest_hex, ref.digest}
            known = self._all_images(registry, name)
            return [i for i in known if {i.node_id, i.image_id} & wanted], known
        tagged = self.client.list_images(registry.node_id, name, tag_entry=f"{name}:{ref.tag}")
        found = [i for i in tagged if i.name == name and ref.tag in i.tags]
        if not found:  # a console that filters tags differently: look through the whole repository
            known = self._all_images(registry, name)
            found = [i for i in known if ref.tag in i.tags]
        return sorted({i.node_id: i for i in found}.values(), key=lambda i: i.node_id), known

    def _all_images(self, registry: Registry, name: str | None) -> list[ImageNode]:
        """Every image of one repository, or of the whole registry when `name` is None."""
        images: dict[str, ImageNode] = {}
        offset = 0
        while True:
            page = self.client.list_images(registry.node_id, name, offset=offset, size=_IMAGE_PAGE)
            offset += _IMAGE_PAGE
            before = len(images)
            images.update((i.node_id, i) for i in page)
            if len(page) < _IMAGE_PAGE or len(images) == before:
                return [i for i in images.values() if name is None or i.name == name]

    def _missing_image_message(self, registry: Registry, name: str, ref: ImageRef, known: list[ImageNode]) -> str:
        if not known:
            return f"{ref} is not on the console: registry {for_log(registry.name)} has no repository {name!r}" + (
                "" if self.options.sync else "; if it was pushed recently, pass --sync (CI_SCAN_SYNC=true)"
            )
        wanted = f"digest {ref.digest}" if ref.digest else f"tag {ref.tag!r}"
        tags = sorted({for_log(t) for i in known for t in i.tags})
        shown = ", ".join(tags[:10]) + (", ..." if len(tags) > 10 else "")
        advice = "" if self.options.sync else "; a registry sync may be needed: pass --sync (CI_SCAN_SYNC=true)"
        return f"{ref} is not on the console: {name} has no {wanted} (known tags: {shown}){advice}"

    def _sync(self, registry: Registry) -> None:
        name = for_log(registry.name)
        self.progress(f"Syncing registry {name} so the console sees new tags...")
        try:
            self.client.sync_registry(registry.node_id)
        except PermissionDenied as exc:
            self.progress(f"Warning: {exc.one_line()}; looking the image up without a sync")
            return
        interval = self.options.poll_initial
        seen_syncing, checks = False, 0
        while True:
            self._registries = self.client.list_registries()
            current = next((r for r in self._registries if r.node_id == registry.node_id), None)
            if current is None:
                raise TargetNotFound(f"registry {name} disappeared from the console during sync")
            checks += 1
            seen_syncing = seen_syncing or current.is_syncing
            # The sync runs asynchronously: "not syncing" right after the request may mean "not started yet".
            if not current.is_syncing and (seen_syncing or checks >= SYNC_START_CHECKS):
                self.progress(f"Registry {name} synced")
                return
            interval = self._pause(interval, f"the sync of registry {name}")

    # -- starting ---------------------------------------------------------------------------------

    def _start_targets(self, targets: list[Target]) -> list[_Scan]:
        reused: list[_Scan] = []
        to_start: list[Target] = []
        for target in targets:
            scan = self._reusable(target)
            if scan is None:
                to_start.append(target)
            else:
                reused.append(scan)
        return reused + (self._start(to_start) if to_start else [])

    def _reusable(self, target: Target) -> _Scan | None:
        within = self.options.reuse_within
        if within is None:
            return None
        latest, console_now_ms = self.client.latest_scan(self.kind, target.node_id, target.node_type)
        if latest is None or latest.status != TERMINAL_OK or latest.updated_at_ms <= 0:
            return None
        # The console's clock when it has one to give: a runner's clock can be hours off.
        now = console_now_ms / 1000 if console_now_ms is not None else self.wall_clock()
        age = now - latest.updated_at_ms / 1000
        if not -REUSE_CLOCK_SLACK <= age <= within:
            return None
        note = (f"reused scan {for_log(latest.scan_id)} from {_ago(age)} ago (--reuse-within {within:g}s); "
                "no new scan was started")
        self._detail(f"{target.name}: {note}")
        return _Scan(target, latest.scan_id, notes=[note])

    def _start(self, targets: list[Target]) -> list[_Scan]:
        by_node = {t.node_id: t for t in targets}
        replies = self.client.start_scans(
            self.kind, [(t.node_id, t.node_type) for t in targets], self.options.languages,
            on_reply=self._record_started,
        )
        scans = self._match_scans(replies, by_node, lambda scan_id: None)
        started = {s.target.node_id for s in scans}
        for target in targets:
            if target.node_id not in started:
                scan = _Scan(target, "")
                scan.fail("the console started no scan for it (it skips Deepfence system images and nodes whose "
                          "agent is not running)")
                scans.append(scan)
        return scans

    def _match_scans(
        self, replies: list[StartReply], by_node: dict[str, Target], unknown: Callable[[str], Target | None]
    ) -> list[_Scan]:
        """A `_Scan` per scan id the console handed back (ids are `<node_id>-<unix seconds>`)."""
        self._quiet = sum(len(reply.scan_ids) for reply in replies) > QUIET_OVER
        scans: list[_Scan] = []
        for reply in replies:
            for scan_id in dict.fromkeys(reply.scan_ids):
                node_id, _, stamp = scan_id.rpartition("-")
                target = by_node.get(node_id) or unknown(scan_id)
                if target is None:
                    continue
                scan = _Scan(target, scan_id, bulk_id=reply.bulk_scan_id)
                scan.attached = _was_running(stamp, reply.console_time_ms)
                scan.ours = not scan.attached
                if scan.attached:
                    scan.notes.append(f"attached to running scan {for_log(scan_id)}: the console was already "
                                      "scanning it and does not start a second scan")
                    self._detail(f"Attached to running scan {for_log(scan_id)} for {target.name}")
                else:
                    self._detail(f"Scan {for_log(scan_id)} started for {target.name}")
                scans.append(scan)
        if self._quiet:
            joined = sum(s.attached for s in scans)
            self.progress(f"Started {len(scans) - joined} scan(s)"
                          + (f"; {joined} attached to scans already running" if joined else ""))
        return scans

    def _start_registry(self, wanted: str, tags: str, repositories: Sequence[str]) -> list[_Scan]:
        known = self._registry_list()
        registry = registries.select(known, wanted)
        if registry is None:
            raise TargetNotFound(f"no registry account {wanted!r} on the console (known: {_registry_names(known)})")
        if self.options.sync:
            self._sync(registry)
        images = self._all_images(registry, None)
        names = sorted({i.name for i in images})
        unknown_repos = [r for r in repositories if r not in names]
        if unknown_repos:
            raise TargetNotFound(
                f"registry {for_log(registry.name)} has no repository {', '.join(map(repr, unknown_repos))} "
                f"(known: {', '.join(for_log(n) for n in names[:10]) or 'none'}{', ...' if len(names) > 10 else ''})"
            )
        replies = [
            reply
            for image_filter in _registry_filters(tags, list(repositories), names)
            for reply in self._start_in_registry(registry, image_filter)
        ]
        if not replies:
            raise TargetNotFound(
                f"no image in registry {for_log(registry.name)} matches --tags {tags}"
                + (f" in {', '.join(repositories)}" if repositories else ""), status=400
            )
        by_node = {i.node_id: _image_target(i, None, registry) for i in images}
        scans = self._match_scans(replies, by_node, lambda scan_id: _unlisted_target(scan_id))
        if not scans:
            raise TargetNotFound(f"the console started no scan in registry {for_log(registry.name)}")
        self.progress(f"Selected {len(scans)} image(s) in registry {for_log(registry.name)} (--tags {tags}"
                      + (f", {len(repositories)} repositories" if repositories else "") + "); waiting for their scans")
        return scans

    def _start_in_registry(self, registry: Registry, image_filter: dict[str, list[str]] | None) -> list[StartReply]:
        """One registry start; none when the console answers that no image matches (400)."""
        try:
            return self.client.start_scans(
                self.kind, [(registry.node_id, "registry")], self.options.languages, image_filter,
                on_reply=self._record_started,
            )
        except ConsoleResponseError as exc:
            if exc.status == 400:
                return []
            raise

    def _existing(self, scan_ids: Sequence[str]) -> list[_Scan]:
        wanted = list(dict.fromkeys(scan_ids))
        self._quiet = len(wanted) > QUIET_OVER
        try:
            statuses = self.client.scan_statuses(self.kind, wanted)
        except NotFound:
            statuses = {}
        missing = [s for s in wanted if s not in statuses]
        if missing:
            raise TargetNotFound(f"the console has no {self.kind.name} scan {', '.join(map(repr, missing))}")
        scans = []
        for scan_id in wanted:
            status = statuses[scan_id]
            scan = _Scan(_status_target(status), scan_id, by_id=True)
            scan.notes.append(f"gated on existing scan {for_log(scan_id)}; no new scan was started")
            scans.append(scan)
        return scans

    # -- waiting ----------------------------------------------------------------------------------

    def _wait(self, scans: list[_Scan]) -> None:
        started = self.clock()
        last_report = started
        interval = self.options.poll_initial
        failures = 0
        named = len(scans) > 1
        last_tally = ""
        while True:
            pending = [s for s in scans if s.result is None]
            if not pending:
                return
            try:
                statuses = self._poll(pending)
                failures = 0
            except NotFound as exc:
                if any(not s.by_id for s in pending):  # an unknown bulk: ask for the scans by id instead
                    for scan in pending:
                        scan.by_id = True
                    continue
                self._abandon(pending, exc)
                return
            except ConsoleError as exc:
                # A console restarting during a long scan: keep polling a little before giving up.
                transient = isinstance(exc, ConsoleUnreachable) or (exc.status or 0) >= 500
                failures += 1
                if not transient or failures > MAX_POLL_FAILURES:
                    self._abandon(pending, exc)  # the verdicts already reached stand
                    return
                self.progress(f"Status check failed ({exc}); trying again")
                interval = self._pause(interval, "the scans")  # a failing console: back off by half
                continue
            now = self.clock()
            changed = False
            settle, restart = [], []
            for scan in pending:
                status = statuses.get(scan.scan_id)
                if status is None:
                    if not scan.by_id:
                        scan.by_id = True  # not in its bulk's reply: ask for it by id next round
                        continue
                    scan.fail(f"the console's status reply does not mention scan {for_log(scan.scan_id)}")
                    continue
                changed |= self._observe(scan, status, now - started, named)
                if status.status in KNOWN_STATUSES:
                    scan.unknown_since = None
                if status.status == TERMINAL_OK:
                    settle.append(scan)
                elif status.status == "CANCELLED" and scan.joined_cancelling and (scan.ours or scan.attached):
                    restart.append(scan)
                elif status.status in TERMINAL_FAILED:
                    reason = f": {for_log(status.message)}" if status.message else ""
                    # The console's scanner failing is an outage; a scan someone cancelled or deleted is not.
                    scan.fail(f"scan {for_log(scan.scan_id)} ended {status.status}{reason}",
                              outage=status.status == "ERROR")
                elif status.status not in KNOWN_STATUSES:
                    self._unknown_status(scan, status.status, now)
                else:
                    scan.complete_since = None
            if settle:
                self._settle_all(settle)
            if restart:
                self._restart(scans, restart)
            if self._quiet:
                tally = Counter(s.status for s in scans if s.status)
                done = sum(s.result is not None for s in scans)
                line = ", ".join(f"{n} {for_log(status)}" for status, n in sorted(tally.items()))
                line += f"; {done} of {len(scans)} done"
                if line != last_tally:
                    self.progress(f"Scans after {now - started:.0f}s: {line}")
                    last_tally, changed = line, True
            if all(s.result is not None for s in scans):
                return
            if changed:
                last_report = now
            elif now - last_report >= self.options.heartbeat:
                running = [s for s in scans if s.result is None]
                self.progress(f"Still waiting for {len(running)} scan(s) after {now - started:.0f}s"
                              + (f" ({running[0].status})" if len(running) == 1 else ""))
                last_report = now
            interval = self._pause(interval, f"{len(pending)} scan(s)", since=started)

    def _poll(self, pending: list[_Scan]) -> dict[str, ScanStatus]:
        """One status request per round: by bulk id when every scan came from one start, else by ids."""
        bulks = {s.bulk_id for s in pending}
        if len(bulks) == 1 and "" not in bulks and not any(s.by_id for s in pending):
            return self.client.scan_statuses(self.kind, bulk_scan_id=bulks.pop())
        ids = [s.scan_id for s in pending]
        statuses: dict[str, ScanStatus] = {}
        for first in range(0, len(ids), IDS_PER_STATUS_REQUEST):  # one request below the body limit
            statuses.update(self.client.scan_statuses(self.kind, ids[first : first + IDS_PER_STATUS_REQUEST]))
        return statuses

    def _abandon(self, pending: list[_Scan], exc: ConsoleError) -> None:
        """The console stopped answering about these scans: they could not be completed."""
        self.progress(f"Warning: giving up on {len(pending)} scan(s): {exc.one_line()}")
        for scan in pending:
            scan.fail(f"the console could not say how scan {for_log(scan.scan_id)} went: {exc.one_line()}",
                      outage=exc.outage)

    def _unknown_status(self, scan: _Scan, status: str, now: float) -> None:
        """A status the console does not define: said once, waited on, and after a few minutes an error."""
        scan.complete_since = None
        if scan.unknown_since is None:
            scan.unknown_since = now
            self.progress(f"Warning: scan {for_log(scan.scan_id)} reports {for_log(status)!r}, a status the console "
                          f"does not define; waiting up to {UNKNOWN_STATUS_LIMIT:g}s for a known one")
        elif now - scan.unknown_since >= UNKNOWN_STATUS_LIMIT:
            scan.fail(f"scan {for_log(scan.scan_id)} reported the unknown status {for_log(status)!r} for "
                      f"{now - scan.unknown_since:.0f}s; the console may be newer than this ci-scan")

    def _observe(self, scan: _Scan, status: ScanStatus, elapsed: float, named: bool) -> bool:
        """Records the status; says so when it changed. Returns whether it changed."""
        if not scan.polled:  # the first answer: did the console hand back a scan being cancelled?
            scan.polled = True
            scan.joined_cancelling = status.status in _CANCELLING or (scan.attached and status.status == "CANCELLED")
        if status.status == scan.status:
            return False
        scan.status, scan.message = status.status, status.message
        who = f"{scan.target.name}: scan" if named else "Scan"
        message = f": {for_log(status.message)}" if status.message else ""
        self._detail(f"{who} status {for_log(status.status)}{message} ({elapsed:.0f}s)")
        return True

    def _restart(self, scans: list[_Scan], joined: list[_Scan]) -> None:
        for scan in joined:
            self.progress(f"Scan {for_log(scan.scan_id)} was being cancelled when this run joined it; "
                          "starting a new one")
        try:
            fresh = {s.target.node_id: s for s in self._start([s.target for s in joined])}
        except ConsoleError as exc:  # the verdicts already reached stand
            for scan in joined:
                scan.fail(f"scan {for_log(scan.scan_id)} was cancelled and no new one could be started: "
                          f"{exc.one_line()}", outage=exc.outage)
            return
        replaced = {id(s) for s in joined}
        for index, scan in enumerate(scans):
            if id(scan) in replaced:
                scans[index] = fresh[scan.target.node_id]

    def _pause(self, interval: float, waiting_for: str, since: float | None = None) -> float:
        """Sleep until the next poll and return the pause after it. Raises at the deadline.

        Waiting for scans (`since` their start), the pause is POLL_SHARE of the time waited so far,
        between the first pause and --poll-interval: a scan is noticed within a tenth of its time (or
        the first pause) of finishing, and a long one costs few status checks. Otherwise it grows by half."""
        interval = max(interval, self.options.poll_floor)
        remaining = self._remaining()
        self.sleep(max(0.0, min(interval, remaining)))
        if remaining <= interval:
            raise ScanTimeout(f"timed out after {self.options.timeout:g}s waiting for {waiting_for}")
        grown = interval * 1.5 if since is None else POLL_SHARE * (self.clock() - since)
        return max(self.options.poll_initial, min(grown, self.options.poll_max))

    # -- settling and fetching --------------------------------------------------------------------

    def _settle_all(self, scans: list[_Scan]) -> None:
        """Fetch the findings of COMPLETE scans, several at once, by the run's deadline."""
        workers = min(self.options.max_parallel, len(scans))
        if workers <= 1:
            for scan in scans:
                self._settle(scan)
            return
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ci-scan-fetch")
        try:
            list(pool.map(self._settle, scans))
        except BaseException:  # a signal: do not wait for fetches in flight (closing the client ends them)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    def _settle(self, scan: _Scan) -> None:
        """A COMPLETE scan becomes a result once the console has finished matching (API_NOTES §5.1):
        its runtime SBOM exists, every (CVE, package) it names has landed, and the findings then stay
        unchanged for --settle-time."""
        now = self.clock()
        if scan.complete_since is None:
            scan.complete_since = now
        overdue = now - scan.complete_since >= self.options.settle_timeout
        try:
            if scan.landed is not None:
                self._check_unchanged(scan, *scan.landed, now=now, overdue=overdue)
                return
            sbom = self.client.runtime_sbom(scan.scan_id) if self.kind.has_sbom else []
            if sbom is None:
                if overdue:
                    scan.fail(f"scan {for_log(scan.scan_id)} has been COMPLETE for {self.options.settle_timeout:g}s "
                              "but the console never finished matching its vulnerabilities (no runtime SBOM yet), "
                              "so its findings cannot be trusted")
                else:
                    self._say_settling(scan, "waiting for the console to finish matching vulnerabilities")
                return
            result = replace(self.fetch(scan.target, scan.scan_id), packages=_packages(sbom))
        except ConsoleError as exc:
            scan.fail(f"could not fetch the findings of scan {for_log(scan.scan_id)}: {exc.one_line()}",
                      outage=exc.outage)
            return
        except ScanTimeout:
            scan.time_out()
            return
        except _Contradiction as exc:
            scan.fail(str(exc))
            return
        missing = _not_landed(sbom, result.findings)
        if missing:
            if overdue:
                scan.fail(f"the console's SBOM of scan {for_log(scan.scan_id)} names {len(missing)} "
                          f"vulnerabilities its results still lack after {self.options.settle_timeout:g}s "
                          f"(e.g. {for_log(sorted(missing)[0])})")
            else:
                self._say_settling(scan, f"{len(missing)} vulnerabilities of its SBOM have not landed yet")
            return
        if self.options.settle_time > 0:
            scan.landed = (now, result)
            self._say_settling(scan, f"checking that its findings stay unchanged for {self.options.settle_time:g}s")
            return
        scan.result = replace(result, status=scan.status, notes=tuple(scan.notes))

    def _check_unchanged(
        self, scan: _Scan, landed_at: float, result: TargetResult, *, now: float, overdue: bool
    ) -> None:
        """Gate on the findings once --settle-time has passed without the console's count changing."""
        if now - landed_at < self.options.settle_time:
            return
        try:
            count = self.client.count_results(self.kind, scan.scan_id)
        except (NotFound, ConsoleResponseError):  # a console that cannot count: fetch them all again
            count = len(self.fetch(scan.target, scan.scan_id).findings)
        if count == len(result.findings):
            scan.result = replace(result, status=scan.status, notes=tuple(scan.notes))
        elif overdue:
            scan.fail(f"the findings of scan {for_log(scan.scan_id)} were still changing "
                      f"{self.options.settle_timeout:g}s after it was COMPLETE ({len(result.findings)}, then {count})")
        else:
            scan.landed = None  # more findings landed: fetch them all again next round

    def _say_settling(self, scan: _Scan, why: str) -> None:
        if not scan.said_settling:
            scan.said_settling = True
            self._detail(f"Scan {for_log(scan.scan_id)} is COMPLETE; {why}")

    def fetch(self, target: Target, scan_id: str) -> TargetResult:
        """Every finding of the scan, checked against the console's own counts."""
        warnings: list[str] = []
        expected = self._count(scan_id, warnings)
        findings: dict[str, Finding] = {}
        size = self.options.page_size
        pages = 0
        while True:
            page = self.client.results_page(self.kind, scan_id, offset=pages * size, size=size)
            pages += 1
            added = _collect(findings, page)
            # A short page ends the list; a page with nothing new means the console ignores the window.
            if len(page.findings) < size or not added:
                break
        if expected is not None and len(findings) < expected:
            # Paging was not stable on this console: ask for everything at once (window size 0).
            self.progress(f"Paging returned {len(findings)} of {expected} findings; fetching them in one request")
            page = self.client.results_page(self.kind, scan_id, offset=0, size=0)
            pages += 1
            _collect(findings, page)
        result = TargetResult(
            target=target,
            scan_id=scan_id,
            status=TERMINAL_OK,
            findings=tuple(sorted(findings.values(), key=lambda f: f.sort_key)),
            console_counts=dict(page.severity_counts),
            started_at_ms=page.created_at_ms,
            finished_at_ms=page.updated_at_ms,
        )
        _check_consistent(result, scan_id, expected, warnings)
        for warning in warnings:
            self.progress(f"Warning: {warning}")
        self._detail(f"Fetched {len(findings)} findings of {target.name} in {pages} page(s)")
        return replace(result, warnings=tuple(warnings))

    def _count(self, scan_id: str, warnings: list[str]) -> int | None:
        """The console's own total, to check paging against; None when the console cannot say."""
        try:
            return self.client.count_results(self.kind, scan_id)
        except (NotFound, ConsoleResponseError) as exc:
            warnings.append(f"could not count the findings to check paging: {exc}")
            return None


def merge_kinds(runs: Sequence[RunResult]) -> RunResult:
    """One run of several scan kinds' runs: a target's results of each kind as one result.

    Its findings are every kind's; its scan id, status and SBOM the first kind's (the other kinds' ids
    are notes); an error or a time-out of any kind makes the target incomplete, saying which kind."""
    if len(runs) == 1:
        return runs[0]
    kinds = tuple(kind for run in runs for kind in run.scan_kinds)
    by_target: dict[tuple[str, str], list[tuple[FindingKind, TargetResult]]] = {}
    for run in runs:
        for result in run.targets:
            by_target.setdefault((result.target.node_id, result.target.name), []).append((run.scan_kinds[0], result))
    merged = tuple(_merged_target(parts) for parts in by_target.values())
    return RunResult(targets=merged, console_url=runs[0].console_url, scan_kinds=kinds,
                     warnings=tuple(w for run in runs for w in run.warnings))


def _merged_target(parts: list[tuple[FindingKind, TargetResult]]) -> TargetResult:
    (_, first), rest = parts[0], parts[1:]
    errors = [f"{kind} scan: {result.error}" for kind, result in parts if result.error]
    counts: dict[str, int] = {}
    for _, result in parts:
        for key, value in result.console_counts.items():
            counts[key] = counts.get(key, 0) + value
    starts = [r.started_at_ms for _, r in parts if r.started_at_ms > 0]
    return replace(
        first,
        findings=tuple(f for _, result in parts for f in result.findings),
        console_counts=counts,
        started_at_ms=min(starts, default=0),
        finished_at_ms=max((r.finished_at_ms for _, r in parts), default=0),
        error="; ".join(errors),
        timed_out=any(r.timed_out for _, r in parts) and not errors,
        timed_out_kinds=tuple(kind for kind, r in parts if r.timed_out),
        partial=any(not r.completed for _, r in parts) and any(r.completed for _, r in parts),
        outage=all(r.outage for _, r in parts if not r.completed) and any(not r.completed for _, r in parts),
        warnings=tuple(w if kind == parts[0][0] else f"{kind} scan: {w}" for kind, r in parts for w in r.warnings),
        notes=(*first.notes, *(f"{kind} scan {r.scan_id or '(not started)'}" for kind, r in rest),
               *(f"{kind} scan: {n}" for kind, r in rest for n in r.notes)),
    )


def _packages(sbom: Sequence[SbomEntry]) -> tuple[Package, ...]:
    """The SBOM's packages, each (name, version) once with every location and licence, by name."""
    merged: dict[tuple[str, str], tuple[dict[str, None], dict[str, None]]] = {}
    for entry in sbom:
        if not entry.package:
            continue
        locations, licenses = merged.setdefault((entry.package, entry.version), ({}, {}))
        locations.update(dict.fromkeys(entry.locations))
        licenses.update(dict.fromkeys(entry.licenses))
    return tuple(Package(name, version, tuple(locations), tuple(licenses))
                 for (name, version), (locations, licenses) in sorted(merged.items()))


def _not_landed(sbom: Sequence[SbomEntry], findings: Sequence[Finding]) -> list[str]:
    """The SBOM's (vulnerability, package) pairs without a finding yet, as `CVE in package`.

    One CVE can sit in several packages (openssl and libssl3): each package's finding must land.
    Findings name their package `name:version` (`cve_caused_by_package`), as the SBOM's entries do.
    """
    components: dict[str, list[str]] = {}
    for finding in findings:
        components.setdefault(finding.rule_id, []).append(finding.component)
    missing = {
        f"{entry.cve_id} in {entry.package}"
        for entry in sbom
        if entry.cve_id and not any(
            c == (f"{entry.package}:{entry.version}" if entry.version else entry.package)
            for c in components.get(entry.cve_id, ())
        )
    }
    return sorted(missing)


class _Contradiction(Exception):
    """The console's results disagree with its own counts: no verdict can rest on them."""


def _check_consistent(result: TargetResult, scan_id: str, expected: int | None, warnings: list[str]) -> None:
    fetched = len(result.findings)
    if expected is not None and fetched < expected:
        raise _Contradiction(f"the console counted {expected} findings for scan {for_log(scan_id)} "
                             f"but returned {fetched}, so the gate cannot trust them")
    ours = {s.label: n for s, n in result.counts().items()}
    short = {k: v for k, v in result.console_counts.items() if v > ours.get(k, 0)}
    if short:
        said = ", ".join(f"{v} {for_log(k)}" for k, v in sorted(short.items()))
        got = ", ".join(f"{ours.get(k, 0)} {for_log(k)}" for k in sorted(short))
        raise _Contradiction(f"the console's counts for scan {for_log(scan_id)} say {said} unmasked findings "
                             f"but its results hold {got}, so the gate cannot trust them")
    if expected is not None and fetched != expected:
        warnings.append(f"the console counted {expected} findings but returned {fetched} distinct ones")
    if any(ours.get(k, 0) != v for k, v in result.console_counts.items()):
        warnings.append(f"the console's severity counts {dict(result.console_counts)} differ from the findings "
                        f"fetched {ours} (it may mask some at image level)")


def _collect(findings: dict[str, Finding], page: ResultsPage) -> int:
    """Adds the page's findings not seen yet; returns how many were new."""
    before = len(findings)
    for finding in page.findings:
        findings.setdefault(finding.result_id or "\x1f".join(finding.key), finding)
    return len(findings) - before


def _image_target(image: ImageNode, ref: ImageRef | None, registry: Registry) -> Target:
    if ref is None:
        text = registries.reference_text(registry, image.name, image.tags[-1] if image.tags else "")
        try:
            ref = ImageRef.parse(text)
        except ValueError:
            ref = None
        name = str(ref) if ref else for_log(text)
    else:
        name = str(ref)
    return Target(
        kind="image", node_id=image.node_id, node_type="image", name=name,
        image=ref, registry_id=registry.node_id, digest=_digest_of(image, ref),
    )


def _digest_of(image: ImageNode, ref: ImageRef | None) -> str | None:
    """Registry-synced image nodes are named by their manifest digest without `sha256:`."""
    for candidate in (image.node_id, image.image_id):
        if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
            return f"sha256:{candidate}"
    return ref.digest if ref else None


_NODE_KINDS: dict[str, TargetKind] = {"image": "image", "container_image": "image", "host": "host",
                                      "container": "container"}


def _status_target(status: ScanStatus) -> Target:
    kind = _NODE_KINDS.get(status.node_type, "image")
    node_type = "image" if kind == "image" else kind
    return Target(kind=kind, node_id=status.node_id or status.scan_id, node_type=node_type,
                  name=for_log(status.node_name or status.node_id or status.scan_id))


def _unlisted_target(scan_id: str) -> Target:
    node_id = scan_id.rpartition("-")[0] or scan_id
    return Target(kind="image", node_id=node_id, node_type="image", name=for_log(node_id))


def _registry_filters(tags: str, repositories: list[str], names: list[str]) -> list[dict[str, list[str]] | None]:
    """`image_scan_filter.filter_in` of each start (API_NOTES 10): one, unless the names are too many.

    The keyword path needs repository names and a mode; `docker_image_tag` alone would match only
    the last tag written per digest (API_NOTES 3.1), so even `latest` names every repository. A
    list of names too long for one request body is split over several starts.
    """
    if not repositories and tags == "all":
        return [None]
    chosen = repositories or names
    chunks: list[list[str]] = [[]]
    size = 0
    for name in chosen:
        cost = len(name.encode()) + 4  # quotes, comma, space
        if chunks[-1] and size + cost > MAX_NAMES_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(name)
        size += cost
    return [{"docker_image_name": chunk, "docker_image_tag": [tags]} for chunk in chunks]


def _was_running(stamp: str, console_time_ms: int | None) -> bool:
    """Whether a scan id's `<unix seconds>` is older than the console's answer to the start."""
    if console_time_ms is None or not stamp.isdigit():
        return False
    return int(stamp) * 1000 < console_time_ms - JOINED_SCAN_SLACK_MS


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _registry_names(known: list[Registry]) -> str:
    return ", ".join(f"{for_log(r.name)} ({for_log(r.node_id)})" for r in known) or "none"
