"""Scan endpoints of every kind (vulnerability, secret, malware): start, status, results (and count), stop, list.

The kind comes from the path (`call.params["kind"]`), except for stop, which goes by the body's `scan_type`
whatever the path says, as the console does.
"""

from __future__ import annotations

import uuid
from typing import Any

from .data import Image
from .filters import IMAGE_LABELS, FieldsFilter, Record, apply_window
from .kinds import BY_SCAN_TYPE, KINDS, VULNERABILITY, ScanKind
from .registry_api import find_registry
from .responses import ApiError, Response, empty, error_response, json_response, node_not_found
from .scans import COMPLETE, Scan, count_severities, steps_for
from .state import Call, ConsoleState


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


def _targets(state: ConsoleState, body: dict[str, Any]) -> list[Image]:
    """The images the start request names; fields may be missing or null where no validator ran."""
    targets: dict[str, Image] = {}
    for node in body.get("node_ids") or []:
        node_id, node_type = (node or {}).get("node_id") or "", (node or {}).get("node_type") or ""
        if node_type == "registry":
            image_filter = (body.get("filters") or {}).get("image_scan_filter") or {}
            images = _registry_images(state, node_id, image_filter.get("filter_in"))
        elif node_type in IMAGE_LABELS and (found := state.dataset.locate(node_id)):
            images = [found[1]]
        else:
            raise node_not_found(node_id)
        targets.update((image.node_id, image) for image in images)
    return list(targets.values())


def start_scan(state: ConsoleState, call: Call) -> Response:
    kind = kind_of(call)
    book = state.book(kind)
    targets = _targets(state, call.body)
    if any(image.tag in ("", "<none>") for image in targets):
        raise ApiError(error_response(500, "image tag not found"))
    system_allowed = bool(call.body.get("deepfence_system_scan"))
    now = state.now_ms()
    scan_ids = []
    for image in targets:
        if image.is_deepfence_system and not system_allowed:
            continue
        scan = book.unfinished_for(image.node_id)  # deduplicated, yet part of this bulk too
        if scan is None:
            scan = book.start(image, steps_for(kind, image.scenario, state.matching_polls), now)
        scan_ids.append(scan.scan_id)
    if not scan_ids:
        return json_response(202, {"scan_ids": [], "bulk_scan_id": ""})
    bulk_scan_id = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
    book.bulks[bulk_scan_id] = scan_ids
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


def _result_rows(state: ConsoleState, call: Call) -> tuple[Scan, list[Record]]:
    """Filtered and ordered findings; unordered requests get a fresh shuffle, as the console's
    ORDER BY-less query gives no stable order either."""
    kind = kind_of(call)
    scan = find_scan(state, call.body["scan_id"], kind)
    selector = FieldsFilter(call.body["fields_filter"])
    return scan, selector.select(scan.ingested_findings(), tie_breaker=kind.tie_breaker, shuffle_with=state.rng)


def scan_results(state: ConsoleState, call: Call) -> Response:
    """Whatever has been ingested so far; counts only for COMPLETE scans, as the console does."""
    scan, rows = _result_rows(state, call)
    image, kind = scan.image, scan.kind
    contradictory = kind is VULNERABILITY and image.scenario == "contradictory"
    listed = None if contradictory else apply_window(rows, call.body["window"])
    return json_response(
        200,
        {
            "scan_id": scan.scan_id,
            "node_id": image.node_id,
            "node_name": image.node_name,
            "node_type": "container_image",
            "docker_image_name": image.repository,
            "docker_container_name": "",
            "host_name": "",
            "kubernetes_cluster_name": "",
            "cloud_account_id": "",
            "created_at": scan.created_at,
            "updated_at": scan.updated_at,
            "severity_counts": count_severities(rows, kind.severity_field) if scan.status == COMPLETE else {},
            kind.results_field: listed,
        },
    )


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
    wanted = {node["node_id"] for node in nodes if node["node_type"] in IMAGE_LABELS}
    scans = {
        scan.scan_id: scan
        for scan in sorted(state.book(kind_of(call)).scans.values(), key=lambda s: s.updated_at)
        if not nodes or scan.image.node_id in wanted
    }
    records = [{**s.info(None), "node_id": s.scan_id} for s in scans.values()]  # fields of the scan node
    chosen = apply_window(FieldsFilter(call.body["fields_filter"]).select(records), call.body["window"])
    infos = [scans[record["node_id"]].info(scans[record["node_id"]].severity_counts()) for record in chosen]
    return json_response(200, {"scans_info": infos or None})
