"""Agent-discovered hosts and containers: what each holds, and the Neo4j properties its agent reports.

A host's `node_id` is its host name; a container's is a 64-hex container id. Both carry findings for each
scan kind like an image does (a container running a dataset image has that image's findings). When a
node exists is console time relative to the simulator's start (`registered_at_ms`, > 0 registers late).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from .data import EPOCH_MS, Image, Scenario
from .findings import generate_findings
from .malware_findings import generate_malware
from .secret_findings import generate_secrets

DAY_MS = 86_400_000
AGENT_VERSION = "v2.5.8-b26a16d"
NODE_LABELS = {"image": "ContainerImage", "container_image": "ContainerImage", "host": "Node",
               "container": "Container", "cluster": "KubernetesCluster", "cloud_account": "CloudNode",
               "aws": "CloudNode", "gcp": "CloudNode", "azure": "CloudNode"}  # fmt: skip
"""The console's `nodeType2Neo4jType`: request node types to Neo4j labels."""


@dataclass
class AgentNode:
    """What hosts and containers share: a name, findings per scan kind, and when the agent reported it."""

    name: str
    severities: dict[str, int] = field(default_factory=dict)
    masked: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, int] = field(default_factory=dict)
    masked_secrets: dict[str, int] = field(default_factory=dict)
    malware: dict[str, int] = field(default_factory=dict)
    masked_malware: dict[str, int] = field(default_factory=dict)
    scenario: Scenario = "normal"
    registered_at_ms: int = -DAY_MS
    """When the agent first reported the node (its `created_at`), in ms after the simulator started."""
    active: bool = True
    deactivated_at: int = 0
    """The console time (epoch ms) the node went inactive; its `updated_at` from then on."""
    is_deepfence_system: bool = False
    latest_scan_id: str = ""
    """The latest vulnerability scan."""
    _findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    label: ClassVar[str] = ""
    """The Neo4j label (also an `entity_types` value of the topology delta)."""
    node_type: ClassVar[str] = ""
    """The stored `node_type` property, which is also what scan status entries call the node."""

    @property
    def node_id(self) -> str:
        return self.name

    @property
    def node_name(self) -> str:
        return self.name

    def findings_of(self, kind: str) -> list[dict[str, Any]]:
        """The findings of a complete scan of this kind (vulnerability, secret or malware); built once."""
        if kind not in self._findings:
            seed = f"{self.label}/{self.node_id}"
            if kind == "vulnerability":
                made = generate_findings(seed, self.severities, self.masked, EPOCH_MS)
            elif kind == "secret":
                made = generate_secrets(seed, self.secrets, self.masked_secrets, EPOCH_MS)
            else:
                made = generate_malware(seed, self.malware, self.masked_malware)
            self._findings[kind] = made
        return self._findings[kind]

    def findings(self) -> list[dict[str, Any]]:
        return self.findings_of("vulnerability")

    def properties(self) -> dict[str, Any]:
        """The node's Neo4j properties, as the agent reported them (no timestamps, no scan fields)."""
        raise NotImplementedError


@dataclass
class Host(AgentNode):
    """A host (Neo4j label `Node`). A host whose agent is not running is skipped by every scan start."""

    agent_running: bool = True
    cloud_provider: str = "aws"
    cloud_region: str = "us-east-1"
    cloud_account_id: str = "123456789012"
    instance_type: str = "c5.xlarge"
    private_ip: str = "10.0.1.10"
    os: str = "linux"
    kernel_version: str = "5.15.0-1051-aws #56-Ubuntu SMP Thu Nov 23 17:16:53 UTC 2023"
    version: str = AGENT_VERSION
    """The agent's version."""
    uptime: int = 604_800

    label: ClassVar[str] = "Node"
    node_type: ClassVar[str] = "host"

    def properties(self) -> dict[str, Any]:
        cloud = self.cloud_provider not in ("", "private_cloud")
        digest = hashlib.sha256(self.name.encode()).hexdigest()
        return {
            "node_id": self.node_id,
            "node_name": self.name,
            "node_type": "host",
            "host_name": self.name,
            "pseudo": False,
            "active": self.active,
            "agent_running": self.agent_running,
            "is_console_vm": False,
            "os": self.os,
            "kernel_version": self.kernel_version,
            "version": self.version,
            "uptime": self.uptime,
            "cloud_provider": self.cloud_provider,
            "cloud_region": self.cloud_region,
            "cloud_account_id": self.cloud_account_id if cloud else "",
            "instance_id": f"i-{digest[:17]}" if cloud else "",
            "instance_type": self.instance_type if cloud else "",
            "availability_zone": f"{self.cloud_region}a" if cloud else "",
            "kernel_id": "",
            "resource_group": "",
            "private_ip": [self.private_ip],
            "public_ip": [],
            "local_cidr": [f"{self.private_ip.rsplit('.', 1)[0]}.0/24", "172.17.0.0/16"],
            "local_networks": ["eth0", "docker0"],
            "kubernetes_cluster_id": "",
            "cpu_max": 400.0,
            "cpu_usage": round(5 + int(digest[:2], 16) / 8, 2),
            "memory_max": 16_000_000_000,
            "memory_usage": 4_000_000_000 + int(digest[2:6], 16) * 10_000,
        }


@dataclass
class Container(AgentNode):
    """A container (Neo4j label `Container`) on `host_name`, running `image_name_with_tag`.

    `image` is the dataset image it runs, if any: the container's findings are then that image's, and a
    scan start for the container also starts the (hidden) scan of that image, as the console does.
    """

    host_name: str = ""
    image_name_with_tag: str = ""
    image: Image | None = None
    command: str = ""
    ports: str = ""
    ip: str = "172.17.0.2"

    label: ClassVar[str] = "Container"
    node_type: ClassVar[str] = "container"

    @property
    def node_id(self) -> str:
        return hashlib.sha256(f"container/{self.host_name}/{self.name}".encode()).hexdigest()

    @property
    def node_name(self) -> str:
        return f"{self.name} / {self.host_name}"

    @property
    def image_id(self) -> str:
        """`docker_image_id`: the dataset image's node id, else an id of an image the console does not hold."""
        if self.image is not None:
            return self.image.node_id
        return hashlib.sha256(f"image/{self.image_name_with_tag}".encode()).hexdigest()

    def findings_of(self, kind: str) -> list[dict[str, Any]]:
        return self.image.findings_of(kind) if self.image is not None else super().findings_of(kind)

    def properties(self) -> dict[str, Any]:
        name, _, tag = self.image_name_with_tag.rpartition(":")
        return {
            "node_id": self.node_id,
            "node_name": self.node_name,
            "node_type": "container",
            "docker_container_name": self.name,
            "host_name": self.host_name,
            "pseudo": False,
            "active": self.active,
            "is_deepfence_system": self.is_deepfence_system,
            "docker_image_id": self.image_id,
            "docker_image_name": name,
            "docker_image_tag": tag,
            "docker_image_name_with_tag": self.image_name_with_tag,
            "docker_container_command": self.command,
            "docker_container_state": "running",
            "docker_container_state_human": "Up 3 days",
            "docker_container_network_mode": "bridge",
            "docker_container_networks": "bridge",
            "docker_container_ips": [self.ip],
            "docker_container_created": "2024-11-16T09:30:00.000000000Z",
            "docker_container_ports": self.ports,
            "docker_labels": {"com.docker.compose.service": self.name},
            "uptime": 259_200,
            "cpu_max": 100.0,
            "cpu_usage": 1.5,
            "memory_max": 2_147_483_648,
            "memory_usage": 134_217_728,
            "kubernetes_cluster_id": "",
            "kubernetes_cluster_name": "",
            "kubernetes_namespace": "",
            "pod_id": "",
            "pod_name": "",
        }


AgentNodes: TypeAlias = Host | Container
"""A node an agent reports."""
ScanTarget: TypeAlias = Image | Host | Container
"""Anything a scan can run on."""


def label_of(node: ScanTarget) -> str:
    return node.label if isinstance(node, AgentNode) else "ContainerImage"


def info_type_of(node: ScanTarget) -> str:
    """What scan status and list entries call the node (the console's `Labels2NodeType`)."""
    return node.node_type if isinstance(node, AgentNode) else "image"
