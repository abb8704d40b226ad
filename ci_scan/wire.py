"""Console JSON replies -> typed values. Tolerant of extra fields, strict on the ones we use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_scan.errors import ConsoleResponseError
from ci_scan.kinds import ScanKind
from ci_scan.models import Finding, Severity, VulnerabilityDetails
from ci_scan.sanitize import clean_int, clean_number, clean_text

TERMINAL_OK = "COMPLETE"
TERMINAL_FAILED = frozenset({"ERROR", "CANCELLED", "DELETE_PENDING"})
KNOWN_STATUSES = frozenset({"STARTING", "IN_PROGRESS", "CANCEL_PENDING", "CANCELLING", TERMINAL_OK, *TERMINAL_FAILED})
"""The console's status strings (API_NOTES §5); read case-insensitively."""


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
    """`ModelScanInfo`: one scan as status and list replies describe it."""

    scan_id: str
    status: str
    message: str = ""
    node_id: str = ""
    node_name: str = ""
    node_type: str = ""
    created_at_ms: int = 0
    updated_at_ms: int = 0


@dataclass(frozen=True)
class StartReply:
    scan_ids: list[str]
    bulk_scan_id: str
    console_time_ms: int | None = None
    """The console's clock when it answered (its `Date` header), to tell new scans from joined ones."""


@dataclass(frozen=True)
class SbomEntry:
    """One package of a scan's runtime SBOM, with the last vulnerability matched in it."""

    package: str
    version: str
    cve_id: str
    locations: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()


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
    if kind is int:
        number = clean_int(value)
        if number is None:
            raise ConsoleResponseError(f"malformed reply from the console: {what} field {key!r} is out of range")
        return number
    return clean_text(value) if isinstance(value, str) else value


def _opt(obj: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    """The field cleaned at the boundary, or `default` when it is missing, mistyped or unusable."""
    value = obj.get(key, default)
    if kind is float:
        number = clean_number(value)  # JSON's 1e999 is infinity, a 400-digit integer overflows a float
        return default if number is None else number
    if kind is int:
        whole = clean_int(value)
        return default if whole is None else whole
    if kind is str:
        return clean_text(value) if isinstance(value, str) else default
    return value if isinstance(value, kind) else default


def _text(obj: Mapping[str, Any], key: str) -> str:
    """`_opt(obj, key, str, "")`, the commonest field, without its checks of the kind: a page of
    findings asks for it a dozen times per finding."""
    value = obj.get(key)
    return clean_text(value) if isinstance(value, str) else ""


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
                name=_text(item, "name"),
                registry_type=_text(item, "registry_type"),
                is_syncing=_opt(item, "is_syncing", bool, False),
                non_secret=non_secret if isinstance(non_secret, Mapping) else {},
            )
        )
    return registries


def parse_images(data: Any) -> list[ImageNode]:
    images = []
    for item in _list(data, "the image list"):
        name = _require(item, "docker_image_name", str, "an image")
        tag_list = [clean_text(t) for t in _list(item.get("docker_image_tag_list"), "a tag list")
                    if isinstance(t, str)]
        tags = {t.rsplit(":", 1)[1] if t.startswith(f"{name}:") else t for t in tag_list}
        last_tag = _text(item, "docker_image_tag")
        if last_tag and not tag_list:
            tags.add(last_tag)
        images.append(
            ImageNode(
                node_id=_require(item, "node_id", str, "an image"),
                name=name,
                tags=tuple(sorted(tags)),
                image_id=_text(item, "docker_image_id"),
            )
        )
    return images


@dataclass(frozen=True)
class AgentNode:
    """A host or container the console's agents discovered (`ModelHost`, `ModelContainer`)."""

    node_id: str
    node_type: str
    """`host` or `container`."""
    name: str
    """The host name, or the container's name."""
    agent_running: bool = True
    """Hosts only: a host whose agent is not running cannot be scanned (its start is skipped)."""
    host_name: str = ""
    image: str = ""
    """A container's image, `name:tag`."""
    instance_id: str = ""
    """A cloud host's instance id, for a pipeline that keeps or tears it down."""
    cloud_provider: str = ""
    system: bool = False
    """A Deepfence container (the agent's own): left out of sweeps."""


def parse_agent_nodes(data: Any, node_type: str) -> list[AgentNode]:
    nodes = []
    what = f"a {node_type}"
    for item in _list(data, f"the {node_type} search reply"):
        if not isinstance(item, Mapping):
            raise ConsoleResponseError(f"malformed reply from the console: {what} is not an object")
        node_id = _require(item, "node_id", str, what)
        if node_type == "host":
            name = _text(item, "host_name") or _text(item, "node_name") or node_id
        else:
            name = _text(item, "docker_container_name") or _text(item, "node_name") or node_id
        nodes.append(AgentNode(
            node_id=node_id,
            node_type=node_type,
            name=name,
            agent_running=_opt(item, "agent_running", bool, True) if node_type == "host" else True,
            host_name=_text(item, "host_name"),
            image=_text(item, "docker_image_name_with_tag"),
            instance_id=_text(item, "instance_id"),
            cloud_provider=_text(item, "cloud_provider"),
            system=_opt(item, "is_deepfence_system", bool, False),
        ))
    return nodes


@dataclass(frozen=True)
class TopologyDelta:
    """What the topology delta reports since the cursor, and the cursor to send next."""

    additions: tuple[tuple[str, str], ...]
    """(node_id, node_type) of each node that became active."""
    deletions: tuple[tuple[str, str], ...]
    addition_timestamp: int
    deletion_timestamp: int


def parse_topology_delta(data: Any, previous: tuple[int, int]) -> TopologyDelta:
    """`additons` is spelled so by the console; a missing timestamp keeps the previous cursor."""
    if not isinstance(data, Mapping):
        raise ConsoleResponseError("malformed reply from the console: the topology delta is not an object")

    def identifiers(key: str) -> tuple[tuple[str, str], ...]:
        found = []
        for item in _list(data.get(key), key):
            if isinstance(item, Mapping):
                node_id, node_type = _text(item, "node_id"), _text(item, "node_type")
                if node_id:
                    found.append((node_id, node_type))
        return tuple(found)

    return TopologyDelta(
        additions=identifiers("additons"),
        deletions=identifiers("deletions"),
        addition_timestamp=max(previous[0], _opt(data, "addition_timestamp", int, previous[0])),
        deletion_timestamp=max(previous[1], _opt(data, "deletion_timestamp", int, previous[1])),
    )


def parse_scan_trigger(data: Any) -> tuple[list[str], str]:
    scan_ids = [clean_text(s) for s in _list(_require(data, "scan_ids", (list, type(None)), "the scan start reply"),
                                             "scan_ids") if isinstance(s, str) and s]
    bulk = _text(data, "bulk_scan_id")
    return scan_ids, bulk


def parse_statuses(data: Any) -> dict[str, ScanStatus]:
    statuses = _require(data, "statuses", (Mapping, type(None)), "the scan status reply") or {}
    parsed = {}
    for scan_id, info in statuses.items():
        parsed[clean_text(scan_id)] = _scan_info(info, clean_text(scan_id))
    return parsed


def _scan_info(info: Any, scan_id: str) -> ScanStatus:
    return ScanStatus(
        scan_id=scan_id,
        status=_known_status(_require(info, "status", str, f"the status of scan {scan_id}")),
        message=_text(info, "status_message"),
        node_id=_text(info, "node_id"),
        node_name=_text(info, "node_name"),
        node_type=_text(info, "node_type"),
        created_at_ms=_opt(info, "created_at", int, 0),
        updated_at_ms=_opt(info, "updated_at", int, 0),
    )


def _known_status(text: str) -> str:
    """A status the console defines, in its own spelling whatever the case; any other text as given."""
    upper = text.strip().upper()
    return upper if upper in KNOWN_STATUSES else text


def parse_scan_list(data: Any) -> list[ScanStatus]:
    infos = _list(_require(data, "scans_info", (list, type(None)), "the scan list reply"), "scans_info")
    return [_scan_info(info, _require(info, "scan_id", str, "a listed scan")) for info in infos]


def parse_sbom(data: Any) -> list[SbomEntry]:
    entries = []
    for item in _list(data, "the SBOM"):
        if not isinstance(item, Mapping):
            raise ConsoleResponseError("malformed reply from the console: an SBOM entry is not an object")
        entries.append(SbomEntry(
            package=_text(item, "package_name"),
            version=_text(item, "version"),
            cve_id=_text(item, "cve_id"),
            locations=_texts(item.get("locations"), "SBOM locations"),
            licenses=_texts(item.get("licenses"), "SBOM licenses"),
        ))
    return entries


def _texts(value: Any, what: str) -> tuple[str, ...]:
    """A list of texts the console may leave out (null) or fill with empty strings, cleaned."""
    if value is None:
        return ()
    return tuple(clean_text(v) for v in _list(value, what) if isinstance(v, str) and v.strip())


def parse_vulnerability(item: Any) -> Finding:
    what = "a vulnerability"
    urls = tuple(clean_text(u) for u in _list(item.get("urls") if isinstance(item, Mapping) else None, "urls")
                 if isinstance(u, str) and u)
    return Finding(
        kind="vulnerability",
        rule_id=_require(item, "cve_id", str, what),
        severity=Severity.parse(_require(item, "cve_severity", str, what)),
        component=_text(item, "cve_caused_by_package"),
        location=_text(item, "cve_caused_by_package_path"),
        fixed_in=_text(item, "cve_fixed_in"),
        score=_opt(item, "cve_cvss_score", float, 0.0),
        description=_text(item, "cve_description"),
        link=_text(item, "cve_link"),
        masked=_require(item, "masked", bool, what),
        result_id=_text(item, "node_id"),
        details=VulnerabilityDetails(
            cve_type=_text(item, "cve_type"),
            layer=_text(item, "cve_container_layer"),
            attack_vector=_text(item, "cve_attack_vector"),
            network=_text(item, "parsed_attack_vector"),
            overall_score=_opt(item, "cve_overall_score", float, 0.0),
            epss_score=_opt(item, "epss_score", float, 0.0),
            cisa_kev=_opt(item, "cisa_kev", bool, False),
            exploit_poc=_text(item, "exploit_poc"),
            live_connection=_opt(item, "has_live_connection", bool, False),
            urls=urls,
        ),
    )


def parse_secret(item: Any) -> Finding:
    """A secret the console found. Its `matched_content` is the secret itself: it is never read, so it
    can reach no report, log or terminal."""
    what = "a secret"
    filename = _require(item, "full_filename", str, what)
    offset = _opt(item, "starting_index", int, 0)
    return Finding(
        kind="secret",
        rule_id=_require(item, "rule_id", str, what),
        severity=Severity.parse(_require(item, "level", str, what)),
        component=filename,
        location=filename,
        score=_opt(item, "score", float, 0.0),
        description=f"a secret at offset {offset} of {filename} (its value is left out of every report)",
        masked=_require(item, "masked", bool, what),
        result_id=_text(item, "node_id"),
    )


def parse_malware(item: Any) -> Finding:
    what = "a malware finding"
    filename = _require(item, "complete_filename", str, what)
    rule_name = _text(item, "rule_name")
    summary = _text(item, "summary") or _text(item, "description")
    kind = _text(item, "class")
    return Finding(
        kind="malware",
        rule_id=_require(item, "rule_id", str, what) or rule_name,
        severity=Severity.parse(_require(item, "file_severity", str, what)),
        component=filename,
        location=filename,
        score=float(_opt(item, "file_sev_score", int, 0)),
        description="; ".join(part for part in (rule_name, kind, summary) if part),
        link=_text(item, "reference"),
        masked=_require(item, "masked", bool, what),
        result_id=_text(item, "node_id"),
    )


_FINDING_PARSERS = {"vulnerability": parse_vulnerability, "secret": parse_secret, "malware": parse_malware}


def parse_results(data: Any, kind: ScanKind) -> ResultsPage:
    field_name = kind.results_field
    parse = _FINDING_PARSERS[kind.name]
    findings = tuple(parse(v) for v in _list(
        _require(data, field_name, (list, type(None)), "the results reply"), field_name))
    counts = data.get("severity_counts") or {}
    if not isinstance(counts, Mapping):
        raise ConsoleResponseError("malformed reply from the console: severity_counts is not an object")
    cleaned = {clean_text(str(k)): clean_int(v) for k, v in counts.items()}
    return ResultsPage(
        findings=findings,
        severity_counts={k: v for k, v in cleaned.items() if v is not None and v >= 0},  # -1 is no count either
        created_at_ms=_opt(data, "created_at", int, 0),
        updated_at_ms=_opt(data, "updated_at", int, 0),
    )


def parse_count(data: Any) -> int:
    count: int = _require(data, "count", int, "the count reply")
    if count < 0:
        raise ConsoleResponseError("malformed reply from the console: the count reply field 'count' is negative")
    return count
