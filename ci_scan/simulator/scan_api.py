"""Vulnerability scan endpoints: start, status, results (and count), stop, list."""

from __future__ import annotations

import uuid
from typing import Any

from .data import Image
from .filters import IMAGE_LABELS, FieldsFilter, Record, apply_window
from .registry_api import find_registry
from .responses import ApiError, Response, empty, error_response, json_response, node_not_found
from .scans import COMPLETE, Scan, build_steps, count_severities
from .state import Call, ConsoleState


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
        chosen = [i for i in images if plain.matches(state.scans.image_record(i), IMAGE_LABELS)]
    if not chosen:
        fields = {"node_ids": "nodes not found with the provided filters"}
        raise ApiError(error_response(400, "", fields))
    return chosen


def _targets(state: ConsoleState, body: dict[str, Any]) -> list[Image]:
    targets: dict[str, Image] = {}
    for node in body["node_ids"]:
        node_id, node_type = node["node_id"], node["node_type"]
        if node_type == "registry":
            filter_in = body["filters"]["image_scan_filter"]["filter_in"]
            images = _registry_images(state, node_id, filter_in)
        elif node_type in IMAGE_LABELS and (found := state.dataset.locate(node_id)):
            images = [found[1]]
        else:
            raise node_not_found(node_id)
        targets.update((image.node_id, image) for image in images)
    return list(targets.values())


def start_scan(state: ConsoleState, call: Call) -> Response:
    targets = _targets(state, call.body)
    if any(image.tag in ("", "<none>") for image in targets):
        raise ApiError(error_response(500, "image tag not found"))
    system_allowed = bool(call.body.get("deepfence_system_scan"))
    now = state.now_ms()
    scan_ids = []
    for image in targets:
        if image.is_deepfence_system and not system_allowed:
            continue
        scan = state.scans.unfinished_for(image.node_id)  # deduplicated, yet part of this bulk too
        if scan is None:
            scan = state.scans.start(image, build_steps(image.scenario, state.matching_polls), now)
        scan_ids.append(scan.scan_id)
    if not scan_ids:
        return json_response(202, {"scan_ids": [], "bulk_scan_id": ""})
    bulk_scan_id = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
    state.scans.bulks[bulk_scan_id] = scan_ids
    return json_response(202, {"scan_ids": scan_ids, "bulk_scan_id": bulk_scan_id})


def scan_status(state: ConsoleState, call: Call) -> Response:
    """Reports each scan's status, then moves it one step along its timeline."""
    bulk_scan_id = call.body["bulk_scan_id"]
    if bulk_scan_id:
        if bulk_scan_id not in state.scans.bulks:
            raise node_not_found(bulk_scan_id)
        scan_ids = state.scans.bulks[bulk_scan_id]
    else:
        scan_ids = call.body["scan_ids"] or []
    found = [state.scans.scans[i] for i in dict.fromkeys(scan_ids) if i in state.scans.scans]
    if not found:
        raise node_not_found("unknown")
    statuses = {scan.scan_id: scan.info(None) for scan in found}
    now = state.now_ms()
    for scan in found:
        scan.advance(now)
    return json_response(200, {"statuses": statuses})


def find_scan(state: ConsoleState, scan_id: str) -> Scan:
    scan = state.scans.scans.get(scan_id)
    if scan is None:
        raise node_not_found(scan_id)
    return scan


def _result_rows(state: ConsoleState, body: dict[str, Any]) -> tuple[Scan, list[Record]]:
    """Filtered and ordered findings; unordered requests get a fresh shuffle, as the console's
    ORDER BY-less query gives no stable order either."""
    scan = find_scan(state, body["scan_id"])
    selector = FieldsFilter(body["fields_filter"])
    return scan, selector.select(scan.ingested_findings(), tie_breaker="cve_id", shuffle_with=state.rng)


def scan_results(state: ConsoleState, call: Call) -> Response:
    """Whatever has been ingested so far; counts only for COMPLETE scans, as the console does."""
    scan, rows = _result_rows(state, call.body)
    image = scan.image
    listed = None if image.scenario == "contradictory" else apply_window(rows, call.body["window"])
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
            "severity_counts": count_severities(rows) if scan.status == COMPLETE else {},
            "vulnerabilities": listed,
        },
    )


def count_results(state: ConsoleState, call: Call) -> Response:
    """Counted after the window, like the console; `categories` is never filled."""
    _, rows = _result_rows(state, call.body)
    return json_response(200, {"count": len(apply_window(rows, call.body["window"])), "categories": None})


def stop_scan(state: ConsoleState, call: Call) -> Response:
    if call.body["scan_type"] == "VulnerabilityScan":
        now = state.now_ms()
        for scan_id in call.body["scan_ids"] or []:
            if scan := state.scans.scans.get(scan_id):
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
        for scan in sorted(state.scans.scans.values(), key=lambda s: s.updated_at)
        if not nodes or scan.image.node_id in wanted
    }
    records = [{**s.info(None), "node_id": s.scan_id} for s in scans.values()]  # fields of the scan node
    chosen = apply_window(FieldsFilter(call.body["fields_filter"]).select(records), call.body["window"])
    infos = [scans[record["node_id"]].info(scans[record["node_id"]].severity_counts()) for record in chosen]
    return json_response(200, {"scans_info": infos or None})
