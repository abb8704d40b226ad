"""Scan endpoints of every kind (vulnerability, secret, malware): start, status, results (and count), stop, list.

The kind comes from the path (`call.params["kind"]`), except for stop, which goes by the body's `scan_type`
whatever the path says, as the console does. Scans run on images, hosts and containers alike.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from .data import Image
from .filters import IMAGE_LABELS, FieldsFilter, Record, apply_window
from .kinds import BY_SCAN_TYPE, KINDS, VULNERABILITY, ScanKind
from .node_records import RESULTS_COMMON_FIELDS
from .nodes import NODE_LABELS, AgentNode, Container, Host, ScanTarget, label_of
from .registry_api import find_registry
from .responses import ApiError, Response, empty, error_response, json_response, node_not_found
from .scans import COMPLETE, UNCLAIMED, Scan, ScanBook, count_severities, steps_for
from .state import Call, ConsoleState

AGENT_NODE_LABELS = {"host": "Node", "container": "Container"}


def kind_of(call: Call) -> ScanKind:
    return KINDS[call.params.get("kind", VULNERABILITY.name)]


def _by_keyword(images: list[Image], names: list[Any], modes: list[Any]) -> list[Image]:
    """The UI's repository + tag-keyword selection (latest / all / recent)."""
    chosen: list[Image] = []
    for name in names:
        repository = [image for image in images if image.repository == name]
        for mode in modes:
            if mode == "all":
                chosen += repository
            elif mode == "latest":
                chosen += [image for image in repository if "latest" in image.tags]
            elif mode == "recent" and repository:
                chosen.append(max(repository, key=lambda image: image.pushed_at))
    return chosen


def _registry_images(state: ConsoleState, registry_id: str, filter_in: dict[str, Any] | None) -> list[Image]:
    images = find_registry(state, registry_id).visible_images()
    filter_in = filter_in or {}
    names, modes = filter_in.get("docker_image_name"), filter_in.get("docker_image_tag")
    if names and modes:
        chosen = _by_keyword(images, names, modes)
    else:
        plain = FieldsFilter({"contains_filter": {"filter_in": filter_in}})
        chosen = [i for i in images if plain.matches(state.image_record(i), IMAGE_LABELS)]
    if not chosen:
        fields = {"node_ids": "nodes not found with the provided filters"}
        raise ApiError(error_response(400, "", fields))
    return chosen


def _targets(state: ConsoleState, body: dict[str, Any], now: Callable[[], int]) -> list[ScanTarget]:
    """The nodes the start request names (hosts and containers once registered); fields may be missing or
    null where no validator ran."""
    targets: dict[tuple[str, str], ScanTarget] = {}
    for node in body.get("node_ids") or []:
        node_id, node_type = (node or {}).get("node_id") or "", (node or {}).get("node_type") or ""
        nodes: list[ScanTarget]
        if node_type == "registry":
            image_filter = (body.get("filters") or {}).get("image_scan_filter") or {}
            nodes = list(_registry_images(state, node_id, image_filter.get("filter_in")))
        elif node_type in IMAGE_LABELS and (found := state.dataset.locate(node_id)):
            nodes = [found[1]]
        elif node_type in AGENT_NODE_LABELS and (
            found_node := state.find_node(AGENT_NODE_LABELS[node_type], node_id, now())
        ):
            nodes = [found_node]
        else:
            raise node_not_found(node_id)
        targets.update(((label_of(target), target.node_id), target) for target in nodes)
    return list(targets.values())


def _new_bulk(state: ConsoleState, book: ScanBook, scan_ids: list[str]) -> str:
    bulk_scan_id = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
    book.bulks[bulk_scan_id] = scan_ids
    return bulk_scan_id


def _scan_each(
    state: ConsoleState, book: ScanBook, targets: list[ScanTarget], system_allowed: bool, now: Callable[[], int]
) -> list[str]:
    """The console's `AddNewScan` per node: Deepfence system nodes are skipped (unless allowed), a node's
    unfinished scan is reused, then a host whose agent is not running is skipped; all without a word."""
    scan_ids = []
    for node in targets:
        if node.is_deepfence_system and not system_allowed:
            continue
        scan = book.unfinished_for(node.node_id)  # deduplicated, yet part of this bulk too
        if scan is None:
            if isinstance(node, Host) and not node.agent_running:
                continue
            steps = steps_for(book.kind, node.scenario, state.matching_polls)
            scan = book.start(node, UNCLAIMED if isinstance(node, AgentNode) and not node.active else steps, now())
        scan_ids.append(scan.scan_id)
    return scan_ids


def _scan_container_images(state: ConsoleState, book: ScanBook, body: dict[str, Any], now: Callable[[], int]) -> None:
    """What the console starts after the scans asked for: a scan of each named container's image, in a bulk of
    its own whose ids the reply leaves out. One image it cannot scan (not held, untagged) stops them all."""
    images = []
    for node in body.get("node_ids") or []:
        if (node or {}).get("node_type") == "container":
            container = state.find_node("Container", node.get("node_id") or "", now())
            image = container.image if isinstance(container, Container) else None
            if image is None or state.dataset.locate(image.node_id) is None or image.tag in ("", "<none>"):
                return
            images.append(image)
    scan_ids = _scan_each(state, book, list(images), False, now)
    if scan_ids:
        _new_bulk(state, book, scan_ids)


def start_scan(state: ConsoleState, call: Call) -> Response:
    """One scan per node named, in one bulk; see `_scan_each` for who is skipped and
    `_scan_container_images` for what else a container's scan starts."""
    book = state.book(kind_of(call))
    now = functools.cache(state.now_ms)  # read once, where the request first needs it
    targets = _targets(state, call.body, now)
    if any(isinstance(node, Image) and node.tag in ("", "<none>") for node in targets):
        raise ApiError(error_response(500, "image tag not found"))
    now()
    scan_ids = _scan_each(state, book, targets, bool(call.body.get("deepfence_system_scan")), now)
    bulk_scan_id = _new_bulk(state, book, scan_ids) if scan_ids else ""
    _scan_container_images(state, book, call.body, now)
    return json_response(202, {"scan_ids": scan_ids, "bulk_scan_id": bulk_scan_id})


def scan_status(state: ConsoleState, call: Call) -> Response:
    """Reports each scan's status, then moves it one step along its timeline."""
    book = state.book(kind_of(call))
    bulk_scan_id = call.body["bulk_scan_id"]
    if bulk_scan_id:
        if bulk_scan_id not in book.bulks:
            raise node_not_found(bulk_scan_id)
        scan_ids = book.bulks[bulk_scan_id]
    else:
        scan_ids = call.body["scan_ids"] or []
    found = [book.scans[i] for i in dict.fromkeys(scan_ids) if i in book.scans]
    if not found:
        raise node_not_found("unknown")
    statuses = {scan.scan_id: scan.info(None) for scan in found}
    now = state.now_ms()
    for scan in found:
        scan.advance(now)
    return json_response(200, {"statuses": statuses})


def find_scan(state: ConsoleState, scan_id: str, kind: ScanKind = VULNERABILITY) -> Scan:
    scan = state.book(kind).scans.get(scan_id)
    if scan is None:
        raise node_not_found(scan_id)
    return scan


ORDERED_KEPT = 16
"""Ordered result lists the simulator keeps (a few scans being paged through at once)."""


def _result_rows(state: ConsoleState, call: Call) -> tuple[Scan, list[Record]]:
    """Filtered and ordered findings; unordered requests get a fresh shuffle, as the console's
    ORDER BY-less query gives no stable order either."""
    kind = kind_of(call)
    scan = find_scan(state, call.body["scan_id"], kind)
    selector = FieldsFilter(call.body["fields_filter"])
    rows = scan.ingested_findings()
    if not selector.order:
        return scan, selector.select(rows, tie_breaker=kind.tie_breaker, shuffle_with=state.rng)
    key = (kind.name, scan.scan_id, len(rows), json.dumps(call.body["fields_filter"], sort_keys=True))
    ordered = state.ordered_rows.get(key)
    if ordered is None:
        if len(state.ordered_rows) >= ORDERED_KEPT:
            state.ordered_rows.clear()
        ordered = state.ordered_rows[key] = selector.select(rows, tie_breaker=kind.tie_breaker)
    return scan, ordered


def _scanned_node(node: ScanTarget) -> dict[str, Any]:
    """What a results reply copies from the scanned node's properties (its stored `node_type` included)."""
    if isinstance(node, AgentNode):
        properties = node.properties()
        return {name: properties.get(name) or "" for name in RESULTS_COMMON_FIELDS}
    return {
        "node_id": node.node_id,
        "node_name": node.node_name,
        "node_type": "container_image",
        "docker_image_name": node.repository,
        "docker_container_name": "",
        "host_name": "",
        "kubernetes_cluster_name": "",
        "cloud_account_id": "",
    }


def scan_results(state: ConsoleState, call: Call) -> Response:
    """Whatever has been ingested so far; counts only for COMPLETE scans, as the console does."""
    scan, rows = _result_rows(state, call)
    kind = scan.kind
    contradictory = kind is VULNERABILITY and scan.node.scenario == "contradictory"
    listed = None if contradictory else apply_window(rows, call.body["window"])
    return json_response(
        200,
        {
            "scan_id": scan.scan_id,
            **_scanned_node(scan.node),
            "created_at": scan.created_at,
            "updated_at": scan.updated_at,
            "severity_counts": _severity_counts(state, rows, kind.severity_field) if scan.status == COMPLETE else {},
            kind.results_field: listed,
        },
    )


def _severity_counts(state: ConsoleState, rows: list[Record], severity_field: str) -> dict[str, int]:
    known = state.counted_rows.get(id(rows))
    if known is None:  # the entry keeps its list alive, so no other list can have its id
        if len(state.counted_rows) >= ORDERED_KEPT:
            state.counted_rows.clear()
        known = state.counted_rows[id(rows)] = (rows, count_severities(rows, severity_field))
    return dict(known[1])


def count_results(state: ConsoleState, call: Call) -> Response:
    """Counted after the window, like the console; `categories` is never filled."""
    _, rows = _result_rows(state, call)
    return json_response(200, {"count": len(apply_window(rows, call.body["window"])), "categories": None})


def stop_scan(state: ConsoleState, call: Call) -> Response:
    """Stops scans of the kind `scan_type` names, on any stop path; compliance kinds have none here."""
    kind = BY_SCAN_TYPE.get(call.body["scan_type"])
    if kind is None:
        return empty(202)
    book = state.book(kind)
    found = [book.scans[scan_id] for scan_id in call.body["scan_ids"] or [] if scan_id in book.scans]
    if found or kind is VULNERABILITY:  # a vulnerability stop reads the clock even when it stops nothing
        now = state.now_ms()
        for scan in found:
            scan.stop(now)
    return empty(202)


def list_scans(state: ConsoleState, call: Call) -> Response:
    """Oldest update first unless order fields say otherwise; an empty result is null (a nil Go slice).

    Each scan is listed with the status it has now: COMPLETE includes one whose matching has not finished.
    """
    nodes = call.body["node_ids"] or []
    wanted = {node["node_id"] for node in nodes}  # node_id IN $ids AND (n:<label> OR ...), not pairwise
    labels = {NODE_LABELS.get(node["node_type"]) for node in nodes}
    scans = {
        scan.scan_id: scan
        for scan in sorted(state.book(kind_of(call)).scans.values(), key=lambda s: s.updated_at)
        if not nodes or (scan.node.node_id in wanted and label_of(scan.node) in labels)
    }
    records = [{**s.info(None), "node_id": s.scan_id} for s in scans.values()]  # fields of the scan node
    chosen = apply_window(FieldsFilter(call.body["fields_filter"]).select(records), call.body["window"])
    infos = [scans[record["node_id"]].info(scans[record["node_id"]].severity_counts()) for record in chosen]
    return json_response(200, {"scans_info": infos or None})
