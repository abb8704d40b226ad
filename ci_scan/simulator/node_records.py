"""`ModelHost` and `ModelContainer` as search answers them: a node's properties copied onto the Go struct.

The console decodes each Neo4j node into its model struct (`utils.FromMap`): properties the struct has no
field for are dropped, fields with no property keep Go's zero value ("", 0, false, null). So `containers`,
`processes` and the like are null, and a container's `image` is an all-zero `ModelContainerImage` (search
reads no relationship). With an `in_field_filter` only the listed properties are read.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

_SCAN_FIELDS: dict[str, Any] = {
    "vulnerabilities_count": 0, "vulnerability_scan_status": "", "vulnerability_latest_scan_id": "",
    "secrets_count": 0, "secret_scan_status": "", "secret_latest_scan_id": "",
    "malwares_count": 0, "malware_scan_status": "", "malware_latest_scan_id": "",
}  # fmt: skip

# The struct fields in Go's order (which is the order encoding/json writes them in), with their zero values.
HOST_FIELDS: dict[str, Any] = {
    "node_id": "", "host_name": "", "node_name": "", "tags": None, "containers": None, "processes": None,
    "pods": None, "container_images": None, "kernel_version": "", "uptime": 0, "version": "",
    "agent_running": False, "is_console_vm": False, "local_cidr": None, "os": "", "local_networks": None,
    "instance_id": "", "cloud_provider": "", "cloud_account_id": "", "instance_type": "", "public_ip": None,
    "private_ip": None, "availability_zone": "", "kernel_id": "", "cloud_region": "", "resource_group": "",
    "cpu_max": 0.0, "cpu_usage": 0.0, "memory_max": 0, "memory_usage": 0, **_SCAN_FIELDS,
    "compliances_count": 0, "compliance_scan_status": "", "compliance_latest_scan_id": "",
    "exploitable_vulnerabilities_count": 0, "exploitable_secrets_count": 0, "exploitable_malwares_count": 0,
    "warn_alarm_count": 0, "cloud_warn_alarm_count": 0, "inbound_connections": None, "outbound_connections": None,
}  # fmt: skip
IMAGE_FIELDS: dict[str, Any] = {
    "node_id": "", "image_node_id": "", "node_name": "", "tags": None, "docker_image_name": "",
    "docker_image_tag": "", "docker_image_size": "", "docker_image_created_at": "", "docker_image_virtual_size": "",
    "docker_image_id": "", "docker_image_tag_list": None, "metadata": None, **_SCAN_FIELDS, "containers": None,
    "is_deepfence_system": False,
}  # fmt: skip
CONTAINER_FIELDS: dict[str, Any] = {
    "node_id": "", "node_name": "", "docker_container_name": "", "tags": None, "image": IMAGE_FIELDS,
    "processes": None, "docker_labels": None, "host_name": "", "docker_image_name_with_tag": "",
    "docker_container_command": "", "docker_container_state": "", "docker_container_state_human": "",
    "docker_container_network_mode": "", "docker_container_networks": "", "docker_container_ips": None,
    "docker_container_created": "", "docker_container_ports": "", "uptime": 0, "cpu_max": 0.0, "cpu_usage": 0.0,
    "memory_max": 0, "memory_usage": 0, **_SCAN_FIELDS, "kubernetes_cluster_name": "", "kubernetes_cluster_id": "",
    "kubernetes_namespace": "", "is_deepfence_system": False,
}  # fmt: skip
RESULTS_COMMON_FIELDS = (
    "node_id", "node_name", "node_type", "docker_image_name", "docker_container_name", "host_name",
    "kubernetes_cluster_name", "cloud_account_id",
)  # fmt: skip
"""What a results reply copies from the scanned node, after its `scan_id`."""


def _go_value(value: Any, zero: Any) -> Any:
    """Go writes a float64 that holds a whole number without a fraction (100, not 100.0)."""
    if isinstance(zero, float) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def project(
    properties: Mapping[str, Any], fields: Mapping[str, Any], only: Iterable[str] | None = None
) -> dict[str, Any]:
    """`properties` decoded into the struct whose fields (and zero values) are `fields`."""
    read = dict(properties) if only is None else {name: properties[name] for name in only if name in properties}
    return {
        name: copy.deepcopy(zero) if read.get(name) is None else _go_value(read[name], zero)
        for name, zero in fields.items()
    }
