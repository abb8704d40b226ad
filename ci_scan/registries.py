"""Which console registry account serves an image reference, and what the console calls the image.

Each registry type keeps its address in its own `non_secret` key, and stores repository names
differently: most without the host, Docker Hub and Quay without their namespace, ECR with its host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ci_scan.models import DOCKER_HUB, ImageRef
from ci_scan.wire import Registry

DOCKER_HUB_HOSTS = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})

_URL_KEYS = {
    "docker_private_registry": "docker_registry_url",
    "harbor": "harbor_registry_url",
    "gitlab": "gitlab_registry_url",
    "azure_container_registry": "azure_registry_url",
    "google_container_registry": "registry_url",
    "quay": "quay_registry_url",
    "jfrog_container_registry": "jfrog_registry_url",
}
_NAMESPACE_KEYS = {"quay": "quay_namespace", "jfrog_container_registry": "jfrog_repository"}


@dataclass(frozen=True)
class RegistryMatch:
    registry: Registry
    console_name: str
    """The repository as the console stores it (`docker_image_name`)."""
    prefix: str
    """The part of the reference the registry account accounts for: host[/namespace]."""


def normalise_host(url: str) -> str:
    """`https://Registry.example.com:443/v2/` -> `registry.example.com`."""
    host = url.strip().lower()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return host.removesuffix(":443")


def _text(registry: Registry, key: str) -> str:
    value = registry.non_secret.get(key)
    return value.strip() if isinstance(value, str) else ""


def match(registry: Registry, ref: ImageRef) -> RegistryMatch | None:
    """How `registry` serves `ref`, or None when it does not."""
    host = normalise_host(ref.registry_host)
    repository = ref.repository
    kind = registry.registry_type
    if kind == "docker_hub":
        if host not in DOCKER_HUB_HOSTS:
            return None
        if "/" not in repository:
            repository = f"library/{repository}"
        namespace = _text(registry, "docker_hub_namespace").lower()
        head, _, name = repository.partition("/")
        return RegistryMatch(registry, name, f"{DOCKER_HUB}/{head}") if head == namespace else None
    if kind == "ecr":
        if _text(registry, "is_public").lower() == "true":
            expected = "public.ecr.aws"
        else:
            expected = f"{_text(registry, 'aws_account_id')}.dkr.ecr.{_text(registry, 'aws_region_name')}"
            expected = f"{expected}.amazonaws.com".lower()
        return RegistryMatch(registry, f"{host}/{repository}", host) if host == expected else None
    url_key = _URL_KEYS.get(kind)
    url = _text(registry, url_key) if url_key else ""
    if not url and kind == "quay":
        url = "quay.io"
    if not url or normalise_host(url) != host:
        return None
    namespace_key = _NAMESPACE_KEYS.get(kind)
    if namespace_key:
        namespace = _text(registry, namespace_key).strip("/").lower()
        if namespace:
            if not repository.startswith(f"{namespace}/"):
                return None
            return RegistryMatch(registry, repository[len(namespace) + 1 :], f"{host}/{namespace}")
    return RegistryMatch(registry, repository, host)


def find(registries: Iterable[Registry], ref: ImageRef) -> list[RegistryMatch]:
    """Every registry account serving `ref`, the most specific (longest prefix) only."""
    matches = [m for m in (match(r, ref) for r in registries) if m is not None]
    if not matches:
        return []
    longest = max(len(m.prefix) for m in matches)
    return [m for m in matches if len(m.prefix) == longest]


def select(registries: Iterable[Registry], wanted: str) -> Registry | None:
    """The registry whose node id or name is `wanted`."""
    candidates = list(registries)
    for registry in candidates:
        if registry.node_id == wanted:
            return registry
    named = [r for r in candidates if r.name == wanted]
    return named[0] if len(named) == 1 else None


def console_name(registry: Registry, ref: ImageRef) -> str:
    """The console's name for `ref` in a registry the user named explicitly."""
    found = match(registry, ref)
    if found:
        return found.console_name
    if registry.registry_type == "ecr":
        return f"{normalise_host(ref.registry_host)}/{ref.repository}"
    return ref.repository


def reference_text(registry: Registry, console_name: str, tag: str) -> str:
    """The reference a user would pull for an image the console lists as `console_name` with `tag`."""
    kind = registry.registry_type
    if kind == "docker_hub":
        namespace = _text(registry, "docker_hub_namespace").lower()
        path = f"{namespace}/{console_name}" if namespace else console_name
    elif kind == "ecr":
        path = console_name
    else:
        url_key = _URL_KEYS.get(kind)
        host = normalise_host(_text(registry, url_key) if url_key else "") or ("quay.io" if kind == "quay" else "")
        namespace_key = _NAMESPACE_KEYS.get(kind)
        namespace = _text(registry, namespace_key).strip("/").lower() if namespace_key else ""
        path = "/".join(part for part in (host, namespace, console_name) if part)
    return f"{path}:{tag}" if tag else path
