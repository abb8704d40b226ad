"""The console's inventory: users, registries, the images they host and each image's findings, and the
hosts and containers agents report (nodes.py)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .findings import generate_findings
from .hostile import make_hostile
from .malware_findings import generate_malware
from .secret_findings import generate_secrets
from .tokens import ApiUser, default_users

if TYPE_CHECKING:
    from .nodes import Container, Host

Scenario = Literal[
    "normal", "flaky", "error", "cancelled", "stuck", "delete_pending", "skipped",
    "never_matched", "contradictory", "hostile_text", "slow_matching", "unknown_status",
]  # fmt: skip
"""How a scan of the image unfolds (see scans.py); "skipped" marks a Deepfence system image the console
will not scan, "never_matched" an image without a registry id (COMPLETE, but never matched),
"contradictory" a results reply with `vulnerabilities: null` beside non-zero counts, "hostile_text"
findings and messages with terminal escapes, lone surrogates and a 400-digit score, "slow_matching"
IN_PROGRESS again between the first and the final COMPLETE, "unknown_status" a status the console does not
define (QUEUED_REMOTE) on the way to COMPLETE."""

LatestScan = tuple[str, str, int]
"""An image's latest scan of one kind: status, scan id and the findings it has counted."""
NOT_SCANNED: LatestScan = ("", "", 0)

EPOCH_MS = 1_732_000_000_000  # 2024-11-19, the "now" the sample data was pushed at

# Non-secret fields per registry type, and which of them is the namespace inside its node_id.
NON_SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "docker_private_registry": ("docker_registry_url", "docker_username", "is_public"),
    "docker_hub": ("docker_hub_namespace", "docker_hub_username", "is_public"),
    "quay": ("quay_namespace", "quay_registry_url"),
    "harbor": ("harbor_registry_url", "harbor_username", "harbor_project_name"),
    "gitlab": ("gitlab_registry_url", "gitlab_server_url"),
    "jfrog_container_registry": ("jfrog_registry_url", "jfrog_repository", "jfrog_username"),
    "azure_container_registry": ("azure_registry_url", "azure_registry_username"),
    "google_container_registry": ("registry_url", "project_id"),
    "ecr": (
        "aws_region_name", "aws_account_id", "use_iam_role", "is_public", "aws_access_key_id",
        "target_account_role_arn",
    ),
}  # fmt: skip
NAMESPACE_FIELD = {
    "docker_private_registry": "docker_username",
    "docker_hub": "docker_hub_namespace",
    "quay": "quay_namespace",
    "harbor": "harbor_project_name",
    "gitlab": "gitlab_registry_url",
    "jfrog_container_registry": "jfrog_repository",
    "azure_container_registry": "azure_registry_url",
    "google_container_registry": "project_id",
    "ecr": "aws_account_id",
}
_BOOLEAN_FIELDS = frozenset({"is_public", "use_iam_role"})


def escape_namespace(namespace: str) -> str:
    return namespace.replace("/", "_").replace(":", "_").replace("+", "_")


@dataclass
class Image:
    """One image node (one manifest digest) in a registry.

    `repository` is `docker_image_name` as the console stores it: the path without the registry host
    for private registries and Quay ("team/app"), the bare name for Docker Hub ("app" for acme/app),
    host included for ECR. An empty `tags` list is an untagged ("<none>") image. `severities` and `masked`
    count vulnerabilities by severity, `secrets` and `malware` (and their `masked_*`) the secret and malware
    findings by level (high, medium or low); the scenario applies to every kind where it makes sense.
    """

    repository: str
    tags: list[str]
    severities: dict[str, int] = field(default_factory=dict)
    masked: dict[str, int] = field(default_factory=dict)
    scenario: Scenario = "normal"
    visible_after_sync: bool = False
    digest: str = ""
    """`sha256:<hex>`; derived from the registry, repository, tags and platform when left empty."""
    platform: str = ""
    """e.g. "linux/arm64" for one image of a multi-architecture tag; not a console field."""
    pushed_at: int = EPOCH_MS
    latest_scan_id: str = ""
    """The latest vulnerability scan."""
    secrets: dict[str, int] = field(default_factory=dict)
    masked_secrets: dict[str, int] = field(default_factory=dict)
    malware: dict[str, int] = field(default_factory=dict)
    masked_malware: dict[str, int] = field(default_factory=dict)
    _findings: list[dict[str, Any]] | None = field(default=None, repr=False)
    _file_findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def node_id(self) -> str:
        return self.digest.removeprefix("sha256:")

    @property
    def tag(self) -> str:
        """`docker_image_tag`: the last tag written for this digest."""
        return self.tags[-1] if self.tags else "<none>"

    @property
    def node_name(self) -> str:
        return f"{self.repository}:{self.tag} ({self.node_id[:12]})"

    @property
    def is_deepfence_system(self) -> bool:
        return self.scenario == "skipped"

    def findings(self) -> list[dict[str, Any]]:
        """Every finding a complete scan reports, masked ones included; built once, on first use."""
        if self._findings is None:
            self._findings = generate_findings(self.digest, self.severities, self.masked, self.pushed_at)
            if self.scenario == "hostile_text":
                make_hostile(self._findings)
        return self._findings

    def findings_of(self, kind: str) -> list[dict[str, Any]]:
        """The findings of a complete scan of this kind (vulnerability, secret or malware); built once."""
        if kind == "vulnerability":
            return self.findings()
        if kind not in self._file_findings:
            if kind == "secret":
                made = generate_secrets(self.digest, self.secrets, self.masked_secrets, self.pushed_at)
            else:
                made = generate_malware(self.digest, self.malware, self.masked_malware)
            self._file_findings[kind] = made
        return self._file_findings[kind]

    def record(
        self,
        scan_status: str,
        vulnerabilities_count: int = 0,
        secret: LatestScan = NOT_SCANNED,
        malware: LatestScan = NOT_SCANNED,
    ) -> dict[str, Any]:
        """`ModelContainerImage` for this image; each count only shows while its scan is COMPLETE."""
        complete = scan_status == "COMPLETE"
        return {
            "node_id": self.node_id,
            "node_name": self.node_name,
            "docker_image_name": self.repository,
            "docker_image_tag": self.tag,
            "docker_image_tag_list": [f"{self.repository}:{tag}" for tag in self.tags],
            "docker_image_id": self.node_id,
            "image_node_id": self.node_id,
            "docker_image_created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.pushed_at / 1000)),
            "docker_image_size": f"{31_457_280 + int(self.node_id[:4], 16) * 1024}",
            "docker_image_virtual_size": f"{62_914_560 + int(self.node_id[4:8], 16) * 1024}",
            "is_deepfence_system": self.is_deepfence_system,
            "containers": [],
            "tags": [],
            "vulnerability_scan_status": scan_status,
            "vulnerability_latest_scan_id": self.latest_scan_id,
            "vulnerabilities_count": vulnerabilities_count if complete else 0,
            "secret_scan_status": secret[0],
            "secret_latest_scan_id": secret[1],
            "secrets_count": secret[2] if secret[0] == "COMPLETE" else 0,
            "malware_scan_status": malware[0],
            "malware_latest_scan_id": malware[1],
            "malwares_count": malware[2] if malware[0] == "COMPLETE" else 0,
        }


@dataclass
class Registry:
    """A registry account; `non_secret` holds the type's non-secret fields (never any secret)."""

    id: int
    name: str
    registry_type: str
    non_secret: dict[str, Any]
    images: list[Image] = field(default_factory=list)
    created_at: int = EPOCH_MS
    sync_polls_left: int = 0
    """GET /registryaccount calls that still report is_syncing=true."""
    sync_pending: bool = False
    synced: bool = False

    def __post_init__(self) -> None:
        allowed = NON_SECRET_FIELDS.get(self.registry_type)
        if allowed is None:
            raise ValueError(f"unknown registry_type {self.registry_type!r}")
        unknown = set(self.non_secret) - set(allowed)
        if unknown:
            raise ValueError(f"{sorted(unknown)} are not non-secret fields of {self.registry_type}")
        for name in allowed:
            self.non_secret.setdefault(name, self._flag_default() if name in _BOOLEAN_FIELDS else "")
        for image in self.images:
            if not image.digest:
                text = f"{self.node_id}/{image.repository}:{','.join(image.tags)}"
                text += f"@{image.platform}" if image.platform else ""
                image.digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def _flag_default(self) -> bool | str:
        """ECR keeps its flags as the strings "true"/"false"; the other types as booleans."""
        return "false" if self.registry_type == "ecr" else False

    @property
    def namespace(self) -> str:
        return str(self.non_secret[NAMESPACE_FIELD[self.registry_type]])

    @property
    def node_id(self) -> str:
        return f"{self.registry_type}-{escape_namespace(self.namespace)}-{self.id}"

    def visible_images(self) -> list[Image]:
        return [image for image in self.images if self.synced or not image.visible_after_sync]

    def record(self, is_syncing: bool) -> dict[str, Any]:
        """`ModelRegistryListResp` for this registry."""
        return {
            "id": self.id,
            "node_id": self.node_id,
            "name": self.name,
            "registry_type": self.registry_type,
            "is_syncing": is_syncing,
            "non_secret": dict(self.non_secret),
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class Dataset:
    """Everything the simulated console knows; mutable, so build a fresh one per simulator."""

    registries: list[Registry]
    users: list[ApiUser] = field(default_factory=default_users)
    hosts: list[Host] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)

    def registry(self, node_id: str) -> Registry | None:
        return next((r for r in self.registries if r.node_id == node_id), None)

    def locate(self, image_node_id: str) -> tuple[Registry, Image] | None:
        """The visible image with this node_id and its registry."""
        for registry in self.registries:
            for image in registry.visible_images():
                if image.node_id == image_node_id:
                    return registry, image
        return None

    def image(self, repository: str, tag: str | None = None) -> Image:
        """Look an image up by console repository name and tag (visible or not); for tests."""
        for registry in self.registries:
            for image in registry.images:
                if image.repository == repository and (tag is None or tag in image.tags or tag == image.tag):
                    return image
        raise KeyError(f"{repository}:{tag}")

    def images(self, repository: str, tag: str) -> list[Image]:
        """Every image node carrying this tag (two for a multi-architecture tag); for tests."""
        return [i for r in self.registries for i in r.images if i.repository == repository and tag in i.tags]

    def host(self, name: str) -> Host:
        """Look a host up by name, which is its node_id (registered or not); for tests."""
        found = next((h for h in self.hosts if h.name == name), None)
        if found is None:
            raise KeyError(name)
        return found

    def container(self, name: str) -> Container:
        """Look a container up by its `docker_container_name` (registered or not); for tests."""
        found = next((c for c in self.containers if c.name == name), None)
        if found is None:
            raise KeyError(name)
        return found

    def node(self, name: str) -> Host | Container:
        """A host or container by name or node_id (registered or not); for tests."""
        every: list[Host | Container] = [*self.hosts, *self.containers]
        found = next((n for n in every if name in (n.name, n.node_id)), None)
        if found is None:
            raise KeyError(name)
        return found

    def user(self, api_token: str) -> ApiUser | None:
        return next((u for u in self.users if u.api_token == api_token), None)
