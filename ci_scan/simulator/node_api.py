"""Agent-discovered nodes: search and count hosts and containers, count every node type, the topology delta.

A search reads the node's properties, so filters see more than the reply shows (`active`, `pseudo`,
`created_at`...). Only `node_filter.filters` and the outer `window` count: `node_filter.window`,
`extended_node_filter` (hosts and containers have no extended node) and `related_node_filter` (not
simulated) are ignored. Without order fields nodes come in the order they registered in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .filters import FieldsFilter, Record, apply_window
from .node_records import CONTAINER_FIELDS, HOST_FIELDS, project
from .nodes import AgentNode, Host
from .responses import ApiError, Response, error_response, json_response
from .state import Call, ConsoleState

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DELTA_SYNTAX_ERROR = (
    "Neo4jError: Neo.ClientError.Statement.SyntaxError (Invalid input: expected a label name in the WHERE clause)"
)


@dataclass(frozen=True)
class _NodeType:
    label: str
    """The Neo4j label searched."""
    labels: frozenset[str]
    """The `node_type` filter values that match the label."""
    fields: dict[str, Any]
    """The model struct the reply decodes each node into."""


_SEARCHED = {
    "hosts": _NodeType("Node", frozenset({"host"}), HOST_FIELDS),
    "containers": _NodeType("Container", frozenset({"container"}), CONTAINER_FIELDS),
}


def _matching(state: ConsoleState, call: Call) -> tuple[_NodeType, list[Record]]:
    """The properties of the nodes that pass `node_filter.filters`, ordered, then windowed."""
    searched = _SEARCHED[call.params["nodes"]]
    node_filter = call.body.get("node_filter") or {}
    now = state.now_ms()
    candidates = [state.node_properties(node, now) for node in state.nodes(searched.label, now)]
    chosen = FieldsFilter(node_filter.get("filters")).select(candidates, labels=searched.labels)
    return searched, apply_window(chosen, call.body.get("window") or {})


def search_nodes(state: ConsoleState, call: Call) -> Response:
    """POST /deepfence/search/{hosts,containers}: `ModelHost[]` / `ModelContainer[]`, never null."""
    searched, rows = _matching(state, call)
    only = (call.body.get("node_filter") or {}).get("in_field_filter") or None
    return json_response(200, [project(row, searched.fields, only) for row in rows])


def count_nodes(state: ConsoleState, call: Call) -> Response:
    """The same search, counted after the window; hosts and containers have no categories."""
    _, rows = _matching(state, call)
    return json_response(200, {"count": len(rows), "categories": {}})


def count_every_type(state: ConsoleState, call: Call) -> Response:
    """GET /deepfence/search/count/nodes: active hosts, containers and registry images; cloud providers are
    those of the known hosts. The simulator has no pods, clusters or namespaces."""
    now = state.now_ms()
    hosts, containers = state.nodes("Node", now), state.nodes("Container", now)
    providers = {node.cloud_provider for node in hosts if isinstance(node, Host) and node.cloud_provider}
    return json_response(
        200,
        {
            "cloud_provider": len(providers),
            "host": sum(node.active for node in hosts),
            "container": sum(node.active for node in containers),
            "container_image": sum(len(registry.visible_images()) for registry in state.dataset.registries),
            "pod": 0,
            "kubernetes_cluster": 0,
            "namespace": 0,
        },
    )


def _identifier(node: AgentNode) -> dict[str, str]:
    return {"node_id": node.node_id, "node_type": node.node_type}


def topology_delta(state: ConsoleState, call: Call) -> Response:
    """POST /deepfence/graph/topology/delta.

    Additions are the active nodes created after `addition_timestamp`, deletions the inactive ones updated
    after `deletion_timestamp`, among the `entity_types` (Neo4j labels: `Node` for hosts, `Container`).
    Each timestamp comes back as the newest one reported, or as sent when nothing was; a side not asked
    for answers `[]` and 0. The labels are pasted into the query: none at all, or one that is no label
    name, is a Cypher syntax error (500).
    """
    body = call.body
    reply: dict[str, Any] = {"additons": [], "deletions": [], "addition_timestamp": 0, "deletion_timestamp": 0}
    if not (body.get("addition") or body.get("deletion")):
        return json_response(200, reply)
    labels = body.get("entity_types") or []
    if not labels or not all(_LABEL.fullmatch(label) for label in labels):
        raise ApiError(error_response(500, _DELTA_SYNTAX_ERROR))
    now = state.now_ms()
    known = sorted((n for label in dict.fromkeys(labels) for n in state.nodes(label, now)), key=state.created_at)
    if body.get("addition"):
        since = body.get("addition_timestamp") or 0
        added = [node for node in known if node.active and state.created_at(node) > since]
        reply["additons"] = [_identifier(node) for node in added]
        reply["addition_timestamp"] = max((state.created_at(node) for node in added), default=since)
    if body.get("deletion"):
        since = body.get("deletion_timestamp") or 0
        removed = [node for node in known if not node.active and node.deactivated_at > since]
        reply["deletions"] = [_identifier(node) for node in removed]
        reply["deletion_timestamp"] = max((node.deactivated_at for node in removed), default=since)
    return json_response(200, reply)
