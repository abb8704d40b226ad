"""Console JSON replies -> typed values. Tolerant of extra fields, strict on the ones we use."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_scan.errors import ConsoleResponseError
from ci_scan.models import Finding, Severity

TERMINAL_OK = "COMPLETE"
TERMINAL_FAILED = frozenset({"ERROR", "CANCELLED", "DELETE_PENDING"})


@dataclass(frozen=True)
class Registry:
    node_id: str
    name: str
    registry_type: str
    is_syncing: bool
    non_secret: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageNode:
    node_id: str
    name: str
    """`docker_image_name`: the repository as the console stores it."""
    tags: tuple[str, ...]
    """Bare tags of this digest (the console's `name:tag` entries, name removed)."""
    image_id: str = ""


@dataclass(frozen=True)
class ScanStatus:
    scan_id: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class ResultsPage:
    findings: tuple[Finding, ...]
    severity_counts: Mapping[str, int]
    created_at_ms: int = 0
    updated_at_ms: int = 0


def _require(obj: Any, key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise ConsoleResponseError(f"malformed reply from the console: {what} has no {key!r}")
    value = obj[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConsoleResponseError(f"malformed reply from the console: {what} field {key!r} has the wrong type")
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = obj.get(key, default)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else default  # JSON's 1e999 parses as infinity
    return value if isinstance(value, kind) else default


def _list(data: Any, what: str) -> list[Any]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConsoleResponseError(f"malformed reply from the console: {what} is not a list")
    return data


def parse_tokens(data: Any) -> tuple[str, str]:
    access = _require(data, "access_token", str, "the token reply")
    refresh = _require(data, "refresh_token", str, "the token reply")
    for token in (access, refresh or "-"):  # an empty refresh token only means: exchange the key again
        if not token or not token.isascii() or not token.isprintable() or " " in token:
            raise ConsoleResponseError("malformed reply from the console: a token is empty or not a bearer token")
    return access, refresh


def parse_registries(data: Any) -> list[Registry]:
    registries = []
    for item in _list(data, "the registry list"):
        non_secret = item.get("non_secret") if isinstance(item, Mapping) else None
        registries.append(
            Registry(
                node_id=_require(item, "node_id", str, "a registry"),
                name=_opt(item, "name", str, ""),
                registry_type=_opt(item, "registry_type", str, ""),
                is_syncing=_opt(item, "is_syncing", bool, False),
                non_secret=non_secret if isinstance(non_secret, Mapping) else {},
            )
        )
    return registries


def parse_images(data: Any) -> list[ImageNode]:
    images = []
    for item in _list(data, "the image list"):
        name = _require(item, "docker_image_name", str, "an image")
        tag_list = [t for t in _list(item.get("docker_image_tag_list"), "a tag list") if isinstance(t, str)]
        tags = {t.rsplit(":", 1)[1] if t.startswith(f"{name}:") else t for t in tag_list}
        last_tag = _opt(item, "docker_image_tag", str, "")
        if last_tag and not tag_list:
            tags.add(last_tag)
        images.append(
            ImageNode(
                node_id=_require(item, "node_id", str, "an image"),
                name=name,
                tags=tuple(sorted(tags)),
                image_id=_opt(item, "docker_image_id", str, ""),
            )
        )
    return images


def parse_scan_trigger(data: Any) -> tuple[list[str], str]:
    scan_ids = [s for s in _list(_require(data, "scan_ids", (list, type(None)), "the scan start reply"),
                                 "scan_ids") if isinstance(s, str) and s]
    bulk = _opt(data, "bulk_scan_id", str, "")
    return scan_ids, bulk


def parse_statuses(data: Any) -> dict[str, ScanStatus]:
    statuses = _require(data, "statuses", (Mapping, type(None)), "the scan status reply") or {}
    parsed = {}
    for scan_id, info in statuses.items():
        parsed[scan_id] = ScanStatus(
            scan_id=scan_id,
            status=_require(info, "status", str, f"the status of scan {scan_id}"),
            message=_opt(info, "status_message", str, ""),
        )
    return parsed


def parse_finding(item: Any) -> Finding:
    what = "a vulnerability"
    urls = tuple(u for u in _list(item.get("urls") if isinstance(item, Mapping) else None, "urls")
                 if isinstance(u, str) and u)
    return Finding(
        cve_id=_require(item, "cve_id", str, what),
        severity=Severity.parse(_require(item, "cve_severity", str, what)),
        package=_opt(item, "cve_caused_by_package", str, ""),
        package_path=_opt(item, "cve_caused_by_package_path", str, ""),
        fixed_in=_opt(item, "cve_fixed_in", str, ""),
        cvss_score=_opt(item, "cve_cvss_score", float, 0.0),
        description=_opt(item, "cve_description", str, ""),
        link=_opt(item, "cve_link", str, ""),
        cve_type=_opt(item, "cve_type", str, ""),
        layer=_opt(item, "cve_container_layer", str, ""),
        attack_vector=_opt(item, "cve_attack_vector", str, ""),
        epss_score=_opt(item, "epss_score", float, 0.0),
        cisa_kev=_opt(item, "cisa_kev", bool, False),
        exploit_poc=_opt(item, "exploit_poc", str, ""),
        urls=urls,
        suppressed=_require(item, "masked", bool, what),
        result_id=_opt(item, "node_id", str, ""),
    )


def parse_results(data: Any) -> ResultsPage:
    findings = tuple(parse_finding(v) for v in _list(
        _require(data, "vulnerabilities", (list, type(None)), "the results reply"), "vulnerabilities"))
    counts = data.get("severity_counts") or {}
    if not isinstance(counts, Mapping):
        raise ConsoleResponseError("malformed reply from the console: severity_counts is not an object")
    return ResultsPage(
        findings=findings,
        severity_counts={str(k): v for k, v in counts.items() if isinstance(v, int)},
        created_at_ms=_opt(data, "created_at", int, 0),
        updated_at_ms=_opt(data, "updated_at", int, 0),
    )


def parse_count(data: Any) -> int:
    count: int = _require(data, "count", int, "the count reply")
    return count
