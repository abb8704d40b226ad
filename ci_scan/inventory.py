"""`ci-scan nodes list` and `ci-scan registries list`: what the console knows, for a periodic job to sweep.

Rows are plain dicts with the same keys in the table and in `--json` (one JSON document: a list).
Console text is neutralised before it reaches a terminal; the JSON keeps it as the console gave it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ci_scan.client import ConsoleClient
from ci_scan.sanitize import for_log

NODE_TYPES = ("image", "host", "container", "registry")
COLUMNS: dict[str, tuple[str, ...]] = {
    "image": ("registry", "repository", "tags", "node_id"),
    "host": ("name", "agent_running", "cloud_provider", "instance_id", "node_id"),
    "container": ("name", "image", "host", "node_id"),
    "registry": ("name", "type", "syncing", "node_id"),
}
_IMAGE_PAGE = 100


def registry_rows(client: ConsoleClient) -> list[dict[str, object]]:
    return [{"name": r.name, "type": r.registry_type, "syncing": r.is_syncing, "node_id": r.node_id}
            for r in client.list_registries()]


def node_rows(client: ConsoleClient, node_type: str) -> list[dict[str, object]]:
    """Every node of `node_type` the console knows, page by page."""
    if node_type == "registry":
        return registry_rows(client)
    if node_type == "image":
        rows: list[dict[str, object]] = []
        for registry in client.list_registries():
            seen: set[str] = set()
            while True:
                page = [i for i in client.list_images(registry.node_id, offset=len(seen), size=_IMAGE_PAGE)
                        if i.node_id not in seen]
                seen.update(i.node_id for i in page)
                rows += [{"registry": registry.name, "repository": image.name, "tags": list(image.tags),
                          "node_id": image.node_id} for image in page]
                if len(page) < _IMAGE_PAGE:  # also when a page brings nothing new
                    break
        return rows
    nodes = client.all_nodes(node_type)
    if node_type == "host":
        return [{"name": n.name, "agent_running": n.agent_running, "cloud_provider": n.cloud_provider,
                 "instance_id": n.instance_id, "node_id": n.node_id} for n in nodes]
    return [{"name": n.name, "image": n.image, "host": n.host_name, "node_id": n.node_id} for n in nodes]


def render(rows: Sequence[dict[str, object]], columns: Sequence[str], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n"
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.append(f"{len(rows)} found")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(for_log(str(v)) for v in value) or "-"
    return for_log(str(value)) if value not in (None, "") else "-"
