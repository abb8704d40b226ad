"""Registry endpoints: list registries, list and count their images, sync."""

from __future__ import annotations

from typing import Any

from .data import Image, Registry
from .filters import IMAGE_LABELS, FieldsFilter, Record, apply_window
from .responses import Response, json_response, node_not_found
from .state import Call, ConsoleState


def list_registries(state: ConsoleState, call: Call) -> Response:
    """GET /deepfence/registryaccount. Each call also moves running syncs one step on."""
    records = []
    for registry in state.dataset.registries:
        syncing = registry.sync_polls_left > 0
        if syncing:
            registry.sync_polls_left -= 1
        elif registry.sync_pending:
            registry.sync_pending, registry.synced = False, True
        records.append(registry.record(syncing))
    return json_response(200, records)


def find_registry(state: ConsoleState, node_id: str) -> Registry:
    registry = state.dataset.registry(node_id)
    if registry is None:
        raise node_not_found(node_id)
    return registry


def _stub(image: Image) -> dict[str, Any]:
    """The repository node (`ImageStub`) that `image_stub_filter` tests."""
    return {"node_id": image.repository, "node_name": image.repository, "docker_image_name": image.repository}


def _matching_images(state: ConsoleState, body: dict[str, Any]) -> list[Record]:
    registry = find_registry(state, body["registry_id"])
    stub_filter = FieldsFilter(body["image_stub_filter"])
    candidates = [
        state.image_record(image) for image in registry.visible_images() if stub_filter.matches(_stub(image))
    ]
    selected = FieldsFilter(body["image_filter"]).select(candidates, labels=IMAGE_LABELS)
    return apply_window(selected, body["window"])


def list_images(state: ConsoleState, call: Call) -> Response:
    return json_response(200, _matching_images(state, call.body))


def count_images(state: ConsoleState, call: Call) -> Response:
    """Counted after the window, like the console."""
    return json_response(200, {"count": len(_matching_images(state, call.body))})


def sync_registry(state: ConsoleState, call: Call) -> Response:
    registry = find_registry(state, call.params["registry_id"])
    registry.sync_polls_left = state.sync_polls
    registry.sync_pending = True
    return json_response(200, {"message": "started sync registry"})
