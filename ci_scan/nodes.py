"""Finding the hosts and containers a run names among those the console's agents discovered.

A name matches a node's id, or its host name (hosts) or container name (containers). A host whose agent
is not running cannot be scanned: the console's start would skip it without a word (API_NOTES §4.3),
so it is reported as such. With `--wait-for-node`, names not yet known (a freshly started instance whose
agent has not registered) and hosts whose agent is not running yet are looked up again until the wait
runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ci_scan.client import ConsoleClient
from ci_scan.errors import ConfigError, TargetNotFound
from ci_scan.models import Target, TargetKind
from ci_scan.sanitize import for_log
from ci_scan.wire import AgentNode

NODE_POLL = 5.0
"""Seconds between lookups while waiting for a node to register."""
NAMES_LISTED = 5


@dataclass(frozen=True)
class Resolved:
    targets: tuple[Target, ...]
    """The nodes to scan, in the order named."""
    unscannable: tuple[tuple[Target, str], ...] = ()
    """Nodes found that cannot be scanned, with why."""


def node_target(node: AgentNode) -> Target:
    kind: TargetKind = "host" if node.node_type == "host" else "container"
    return Target(kind=kind, node_id=node.node_id, node_type=node.node_type, name=node.name)


def _matches(node: AgentNode, name: str) -> bool:
    return name in (node.node_id, node.name) or (node.node_type == "host" and name == node.host_name)


def _lookup(client: ConsoleClient, node_type: str, names: Sequence[str]) -> dict[str, AgentNode]:
    """Each name's node: by id in one request, then by name over the full list for those left."""
    found: dict[str, AgentNode] = {}
    for node in client.search_nodes(node_type, {"node_id": list(names), "active": [True]}):
        found.setdefault(node.node_id, node)  # an id is itself one of the names
    left = [name for name in names if name not in found]
    if left:
        every = client.all_nodes(node_type)
        for name in left:
            matches = [n for n in every if _matches(n, name)]
            if len(matches) > 1:
                ids = ", ".join(for_log(n.node_id) for n in matches[:NAMES_LISTED])
                raise ConfigError(f"{node_type} name {for_log(name)!r} matches {len(matches)} {node_type}s "
                                  f"({ids}): give the node id instead")
            if matches:
                found[name] = matches[0]
    return found


def resolve(client: ConsoleClient, node_type: str, names: Sequence[str], *, wait_for: float | None,
            progress: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> Resolved:
    """The nodes named; TargetNotFound for a name the console does not know (after the wait, if any)."""
    wanted = list(dict.fromkeys(names))
    give_up = clock() + (wait_for or 0.0)
    said_waiting = False
    while True:
        found = _lookup(client, node_type, wanted)
        missing = [name for name in wanted if name not in found]
        stopped = [name for name in wanted if name in found and not found[name].agent_running]
        left = give_up - clock()
        if not (missing or stopped) or left <= 0:
            break
        if not said_waiting:
            progress(f"Waiting up to {wait_for:g}s for {len(missing + stopped)} {node_type}(s) to register with a "
                     f"running agent: {', '.join(for_log(n) for n in (missing + stopped)[:NAMES_LISTED])}")
            said_waiting = True
        sleep(min(NODE_POLL, left))
    if missing:
        waited = f" within --wait-for-node {wait_for:g}s" if wait_for else ""
        raise TargetNotFound(
            f"no {node_type} named {', '.join(repr(for_log(n)) for n in missing[:NAMES_LISTED])} is on the console"
            f"{waited} (its agent has to be installed and registered; `ci-scan nodes list --type {node_type}` "
            "lists those it knows)")
    targets = tuple(node_target(found[name]) for name in wanted)
    unscannable = tuple(
        (node_target(found[name]), "its agent is not running, so the console cannot scan it") for name in stopped)
    return Resolved(targets=tuple(t for t in targets if t not in {u for u, _ in unscannable}),
                    unscannable=unscannable)
