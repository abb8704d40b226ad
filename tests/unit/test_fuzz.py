"""Property-based fuzzing of what reads untrusted input: the console's JSON replies and image references.

Each parser in ci_scan.wire either returns, keeping the promises checked below, or raises
ConsoleResponseError; ImageRef.parse either returns a ref that prints and parses back to itself, or
raises ImageRefError. Any other exception is a bug. Runs are derandomized, so CI sees the same examples.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ci_scan import wire
from ci_scan.errors import ConsoleResponseError
from ci_scan.kinds import SCAN_KINDS
from ci_scan.models import Finding, FindingKind, ImageRef, ImageRefError, Severity, VulnerabilityDetails

Json = Any
"""A value as json.loads returns it."""

FUZZ_ANY = settings(derandomize=True, max_examples=150, deadline=None)
FUZZ_NEAR = settings(derandomize=True, max_examples=60, deadline=None)
FUZZ_REFS = settings(derandomize=True, max_examples=200, deadline=None)

# -- arbitrary JSON -----------------------------------------------------------------------------------

# Text as json.loads can build it: any code point, lone surrogates ("\ud800") and NUL included.
TEXT = st.text(st.characters() | st.sampled_from("\ud800\udfff\x00\x1b\n "), max_size=12)
WORDS = st.sampled_from(["", " ", "COMPLETE", "complete ", "ERROR", "high", "CRITICAL", "latest", "a:b", "x" * 300])
EDGES = st.sampled_from([0, -1, 1, 2**53, 2**53 + 1, -(2**53) - 1, 10**400, 1e308, -0.0, math.inf, -math.inf,
                         math.nan, True, False])
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | WORDS | EDGES
JSON: st.SearchStrategy[Json] = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT | WORDS, inner, max_size=4),
    max_leaves=16,
)


def _like(value: Json) -> st.SearchStrategy[Json]:
    """Values of the same JSON type as `value`, their edge cases first among them."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.sampled_from([-1, 0, 2**53, 2**53 + 1, -(2**53) - 1, 10**400]) | st.integers()
    if isinstance(value, float):
        return st.sampled_from([-1.0, 1e308, math.inf, -math.inf, math.nan]) | st.floats()
    if isinstance(value, str):
        return WORDS | TEXT
    return JSON


_DROP = object()
"""A field or item left out."""
_CHANGE = st.integers(0, 19)
"""Per part of a reply: 0-15 keep it (0 is where shrinking ends; 15 on a list: one item more),
16-17 a value of its type, 18 any JSON, 19 leave it out."""


def _near(draw: st.DrawFn, value: Json) -> Json:
    change = draw(_CHANGE)
    if change == 19:
        return _DROP
    if change == 18:
        return draw(JSON)
    if change >= 16:
        return draw(_like(value))
    if isinstance(value, dict):
        kept = {key: _near(draw, item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item is not _DROP}
    if isinstance(value, list):
        items = [_near(draw, item) for item in value]
        if value and change == 15:
            items.append(_near(draw, value[0]))  # one item more
        return [item for item in items if item is not _DROP]
    return value


def _paths(value: Json, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Where each part of `value` sits: `value` itself first, then its fields and items at any depth."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _put(value: Json, path: tuple[str | int, ...], new: Json) -> Json:
    """A copy of `value` with the part at `path` replaced by `new` (or left out, for _DROP)."""
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    item = _put(value[path[0]], path[1:], new)
    if item is _DROP:
        del copy[path[0]]
    else:
        copy[path[0]] = item
    return copy


def _at(value: Json, path: tuple[str | int, ...]) -> Json:
    for step in path:
        value = value[step]
    return value


@st.composite
def near_valid(draw: st.DrawFn, value: Json) -> Json:
    """`value` with one part changed, or with parts anywhere replaced by arbitrary JSON or a value of
    the same type, or (fields, items) left out; now and then a list has one item more."""
    if not draw(st.booleans()):  # one change, so that each field is tried on its own
        path = draw(st.sampled_from(_paths(value)))
        new = draw(st.one_of(_like(_at(value, path)), JSON, st.just(_DROP)))
        return value if new is _DROP and not path else _put(value, path, new)
    changed = _near(draw, value)
    return value if changed is _DROP else changed


# -- replies in the spec's shapes (openapi.yaml), each one the parser reads without complaint ----------

NODE = "f40be629d3c643af46bd17becfb05c935feb7a2a447f643e7e059510bd9ab962"
SCAN = f"{NODE}-1796127824"
TOKENS = {"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "refresh_token": "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}
REGISTRIES = [{
    "id": 1, "node_id": "docker_private_registry-ci-bot-1", "name": "example-registry",
    "registry_type": "docker_private_registry", "is_syncing": False, "created_at": 1732000000000,
    "updated_at": 1732000000000,
    "non_secret": {"docker_registry_url": "https://registry.example.com", "docker_username": "ci-bot",
                   "is_public": False},
}]
IMAGES = [{
    "node_id": NODE, "node_name": "team/app:latest", "docker_image_name": "team/app",
    "docker_image_tag": "latest", "docker_image_tag_list": ["team/app:1.4.2", "team/app:latest"],
    "docker_image_id": NODE, "is_deepfence_system": False, "vulnerabilities_count": 3,
    "vulnerability_scan_status": "COMPLETE", "tags": [], "metadata": {},
}]
HOSTS = [{
    "node_id": "ip-10-0-0-1", "node_name": "ip-10-0-0-1", "host_name": "ip-10-0-0-1", "agent_running": True,
    "instance_id": "i-0abc", "cloud_provider": "aws", "is_deepfence_system": False, "cpu_max": 2.0,
}]
CONTAINERS = [{
    "node_id": "c0ffee;ip-10-0-0-1", "node_name": "web", "docker_container_name": "web", "host_name": "ip-10-0-0-1",
    "docker_image_name_with_tag": "team/app:1.4.2", "is_deepfence_system": False, "docker_labels": {},
}]
DELTA = {
    "additons": [{"node_id": NODE, "node_type": "image"}], "deletions": [{"node_id": "gone", "node_type": "host"}],
    "addition_timestamp": 1732000000000, "deletion_timestamp": 1732000000001,
}
TRIGGER = {"scan_ids": [SCAN], "bulk_scan_id": "e3e70682-c209-4cac-a29f-6fbed82c07cd"}
SCAN_INFO = {
    "scan_id": SCAN, "status": "COMPLETE", "status_message": "", "node_id": NODE, "node_name": "team/app:latest",
    "node_type": "image", "created_at": 1732000000000, "updated_at": 1732000000500, "severity_counts": {"high": 1},
}
STATUSES = {"statuses": {SCAN: SCAN_INFO}}
SCAN_LIST = {"scans_info": [SCAN_INFO]}
SBOM = [{
    "package_name": "openssl", "version": "3.0.2", "locations": ["/usr/lib/libssl.so.3"], "licenses": ["Apache-2.0"],
    "cve_id": "CVE-2022-0778", "severity": "high", "cve_node_id": "n",
}]
VULNERABILITY = {
    "node_id": "CVE-2022-0778-openssl", "cve_id": "CVE-2022-0778", "cve_severity": "high", "masked": False,
    "cve_caused_by_package": "openssl:3.0.2", "cve_caused_by_package_path": "/usr/lib/libssl.so.3",
    "cve_fixed_in": "3.0.2-0ubuntu1.2", "cve_cvss_score": 7.5, "cve_overall_score": 3.9, "epss_score": 0.01,
    "cve_description": "infinite loop in BN_mod_sqrt()", "cve_link": "https://nvd.nist.gov/vuln/detail/CVE-2022-0778",
    "cve_type": "base", "cve_container_layer": "", "cve_attack_vector": "cvss:3.1/av:n",
    "parsed_attack_vector": "network",
    "cisa_kev": False, "exploit_poc": "", "has_live_connection": False, "urls": ["https://example.com/advisory", ""],
    "rule_id": "", "namespace": "ubuntu:22.04", "updated_at": 1732000000000, "resources": [],
}
SECRET = {
    "node_id": "secret-1", "rule_id": "aws-access-key", "full_filename": "/app/.env", "level": "critical",
    "masked": False, "matched_content": "AKIA-NEVER-READ", "starting_index": 12, "score": 9.0,
    "updated_at": 1732000000000, "resources": [],
}
MALWARE = {
    "node_id": "malware-1", "rule_id": "r1", "rule_name": "Eicar", "class": "test file",
    "complete_filename": "/tmp/eicar", "file_severity": "medium", "file_sev_score": 5, "severity_score": 5,
    "summary": "the EICAR test file", "description": "", "reference": "https://www.eicar.org", "masked": True,
    "image_layer_id": "", "strings_to_match": [],
}
COMMON = {"scan_id": SCAN, "node_id": NODE, "node_type": "image", "created_at": 1732000000000,
          "updated_at": 1732000000500}
RESULTS = {
    "vulnerability": {**COMMON, "vulnerabilities": [VULNERABILITY], "severity_counts": {"high": 1}},
    "secret": {**COMMON, "secrets": [SECRET], "severity_counts": {"critical": 1}},
    "malware": {**COMMON, "malwares": [MALWARE], "severity_counts": {}},
}
COUNT = {"count": 45, "categories": None}
PREVIOUS = (1731999999999, 1732000000005)
"""The topology cursor sent before the delta."""

# -- what each parser promises --------------------------------------------------------------------------

_KNOWN_SEVERITIES = frozenset(Severity)


def _is_count(value: object) -> bool:
    return type(value) is int and 0 <= value <= 2**53


def _is_time(value: object) -> bool:
    return type(value) is int and abs(value) <= 2**53


def assert_clean(value: object, where: str = "result") -> None:
    """Every text reachable from a parser's result is cleaned: no lone surrogate (it would crash
    printing and report writing) and no NUL; every number is finite."""
    if isinstance(value, str):
        value.encode("utf-8")  # raises on a lone surrogate
        assert "\x00" not in value, where
    elif isinstance(value, float):
        assert math.isfinite(value), where
    elif isinstance(value, wire.Registry):
        # non_secret is the console's raw object, read only through registries._text: not walked
        for name in ("node_id", "name", "registry_type"):
            assert_clean(getattr(value, name), f"{where}.{name}")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            assert_clean(getattr(value, item.name), f"{where}.{item.name}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            assert_clean(key, f"{where} key")
            assert_clean(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            assert_clean(item, f"{where}[{index}]")


def _check_finding(finding: object, kind: str) -> None:
    assert isinstance(finding, Finding) and finding.kind == kind
    assert finding.severity in _KNOWN_SEVERITIES and isinstance(finding.masked, bool)
    assert isinstance(finding.score, float) and isinstance(finding.rule_id, str)
    if kind == "vulnerability":
        assert isinstance(finding.details, VulnerabilityDetails)
        assert all(url for url in finding.details.urls)
        assert isinstance(finding.details.cisa_kev, bool) and isinstance(finding.details.live_connection, bool)
    else:
        assert finding.details is None and finding.component == finding.location


def _check_tokens(result: object) -> None:
    assert isinstance(result, tuple) and len(result) == 2
    access, refresh = result
    assert access and access.isascii() and access.isprintable() and " " not in access
    assert refresh == "" or (refresh.isascii() and refresh.isprintable() and " " not in refresh)


def _check_registries(result: object) -> None:
    assert isinstance(result, list)
    for registry in result:
        assert isinstance(registry, wire.Registry) and isinstance(registry.node_id, str)
        assert isinstance(registry.is_syncing, bool) and isinstance(registry.non_secret, Mapping)


def _check_images(result: object) -> None:
    assert isinstance(result, list)
    for image in result:
        assert isinstance(image, wire.ImageNode) and isinstance(image.node_id, str)
        assert list(image.tags) == sorted(set(image.tags))


def _agent_check(node_type: str) -> Callable[[object], None]:
    def check(result: object) -> None:
        assert isinstance(result, list)
        for node in result:
            assert isinstance(node, wire.AgentNode) and node.node_type == node_type
            assert isinstance(node.agent_running, bool) and isinstance(node.system, bool)
            assert node.name or not node.node_id, "a node without a name is called by its id"

    return check


def _check_delta(result: object) -> None:
    assert isinstance(result, wire.TopologyDelta)
    assert all(node_id for node_id, _ in (*result.additions, *result.deletions))
    assert _is_time(result.addition_timestamp) and _is_time(result.deletion_timestamp)
    assert result.addition_timestamp >= PREVIOUS[0] and result.deletion_timestamp >= PREVIOUS[1]


def _check_trigger(result: object) -> None:
    assert isinstance(result, tuple)
    scan_ids, bulk = result
    assert all(isinstance(s, str) and s for s in scan_ids) and isinstance(bulk, str)


def _check_status(status: object) -> None:
    assert isinstance(status, wire.ScanStatus)
    # a status the console defines is spelled its way; other text is kept for the message
    assert status.status in wire.KNOWN_STATUSES or status.status.strip().upper() not in wire.KNOWN_STATUSES
    assert _is_time(status.created_at_ms) and _is_time(status.updated_at_ms)


def _check_statuses(result: object) -> None:
    assert isinstance(result, dict)
    for scan_id, status in result.items():
        _check_status(status)
        assert status.scan_id == scan_id


def _check_scan_list(result: object) -> None:
    assert isinstance(result, list)
    for status in result:
        _check_status(status)


def _check_sbom(result: object) -> None:
    assert isinstance(result, list)
    for entry in result:
        assert isinstance(entry, wire.SbomEntry)
        assert all(text.strip() for text in (*entry.locations, *entry.licenses))


def _results_check(kind: str) -> Callable[[object], None]:
    def check(result: object) -> None:
        assert isinstance(result, wire.ResultsPage)
        for finding in result.findings:
            _check_finding(finding, kind)
        assert all(isinstance(k, str) and _is_count(v) for k, v in result.severity_counts.items())
        assert _is_time(result.created_at_ms) and _is_time(result.updated_at_ms)

    return check


def _results_call(kind: FindingKind) -> Callable[[Json], object]:
    return lambda data: wire.parse_results(data, SCAN_KINDS[kind])


def _check_count(result: object) -> None:
    assert _is_count(result)


@dataclass(frozen=True, repr=False)
class Case:
    parser: str
    """The name in ci_scan.wire."""
    call: Callable[[Json], object]
    valid: Json
    check: Callable[[object], None]
    argument: str = ""
    """The other argument the call passes, for the test's name."""

    def __repr__(self) -> str:
        return f"{self.parser}({self.argument})" if self.argument else self.parser


CASES = [
    Case("parse_tokens", wire.parse_tokens, TOKENS, _check_tokens),
    Case("parse_registries", wire.parse_registries, REGISTRIES, _check_registries),
    Case("parse_images", wire.parse_images, IMAGES, _check_images),
    Case("parse_agent_nodes", lambda d: wire.parse_agent_nodes(d, "host"), HOSTS, _agent_check("host"), "host"),
    Case("parse_agent_nodes", lambda d: wire.parse_agent_nodes(d, "container"), CONTAINERS,
         _agent_check("container"), "container"),
    Case("parse_topology_delta", lambda d: wire.parse_topology_delta(d, PREVIOUS), DELTA, _check_delta),
    Case("parse_scan_trigger", wire.parse_scan_trigger, TRIGGER, _check_trigger),
    Case("parse_statuses", wire.parse_statuses, STATUSES, _check_statuses),
    Case("parse_scan_list", wire.parse_scan_list, SCAN_LIST, _check_scan_list),
    Case("parse_sbom", wire.parse_sbom, SBOM, _check_sbom),
    Case("parse_vulnerability", wire.parse_vulnerability, VULNERABILITY, lambda f: _check_finding(f, "vulnerability")),
    Case("parse_secret", wire.parse_secret, SECRET, lambda f: _check_finding(f, "secret")),
    Case("parse_malware", wire.parse_malware, MALWARE, lambda f: _check_finding(f, "malware")),
    *(Case("parse_results", _results_call(kind), RESULTS[kind], _results_check(kind), kind) for kind in SCAN_KINDS),
    Case("parse_count", wire.parse_count, COUNT, _check_count),
]


def run(case: Case, data: Json) -> None:
    """The parser returns, keeping its promises, or raises ConsoleResponseError: nothing else."""
    try:
        result = case.call(data)
    except ConsoleResponseError as exc:
        assert str(exc).startswith("malformed reply from the console"), f"{case!r}: {exc}"
        return
    except Exception as exc:  # name the parser; hypothesis still shows the real error
        raise AssertionError(f"{case!r} raised {type(exc).__name__}, not ConsoleResponseError") from exc
    case.check(result)
    assert_clean(result, repr(case))


def test_every_public_parser_is_fuzzed() -> None:
    public = {name for name in dir(wire) if name.startswith("parse_") and callable(getattr(wire, name))}
    assert public == {case.parser for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_the_spec_shaped_replies_parse(case: Case) -> None:
    """The seeds of the near-valid fuzzing are replies the parsers accept."""
    case.check(case.call(case.valid))


@FUZZ_ANY
@given(data=JSON)
def test_parsers_survive_any_json(data: Json) -> None:
    for case in CASES:  # one value for every parser: generating it is what takes the time
        run(case, data)


@pytest.mark.parametrize("case", CASES, ids=repr)
@FUZZ_NEAR
@given(draw=st.data())
def test_parsers_survive_near_valid_replies(case: Case, draw: st.DataObject) -> None:
    run(case, draw.draw(near_valid(case.valid), label="reply"))


def _nested(depth: int) -> Json:
    value: Json = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"node_id": value}
    return value


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_parsers_survive_deep_nesting(case: Case) -> None:
    """No parser walks a reply recursively, so nesting deeper than Python's stack is refused or ignored."""
    deep = _nested(5000)
    run(case, deep)
    for path in _paths(case.valid)[1:]:
        run(case, _put(case.valid, path, deep))


# -- bugs the fuzzing found ----------------------------------------------------------------------------


def test_a_negative_count_is_a_malformed_reply() -> None:
    # {"count": -1} was returned as a count of -1: paging checks and --settle-time compared against it
    with pytest.raises(ConsoleResponseError, match="malformed reply from the console.*negative"):
        wire.parse_count({"count": -1, "categories": None})
    assert wire.parse_count({"count": 0}) == 0


def test_negative_severity_counts_are_left_out() -> None:
    # {"critical": -1} reached the consistency check against the findings as a count
    page = wire.parse_results({"secrets": [], "severity_counts": {"critical": -1, "high": 2, "low": 0}},
                              SCAN_KINDS["secret"])
    assert page.severity_counts == {"high": 2, "low": 0}


# -- image references ------------------------------------------------------------------------------------

# The grammar again, written independently of models.py (github.com/distribution/reference).
PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}"
HEX = "0123456789abcdef"

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"


def _joined(alphabet: str, separators: list[str], most: int) -> st.SearchStrategy[str]:
    """Runs of `alphabet` joined by `separators`: `a`, `a-b`, `ab__c`..."""
    piece = st.text(alphabet, min_size=1, max_size=most)
    return st.tuples(piece, st.lists(st.tuples(st.sampled_from(separators), piece), max_size=3)).map(
        lambda parts: parts[0] + "".join(sep + text for sep, text in parts[1])
    )


_label = _joined(ALNUM, ["-", "--"], 6)
_dns = st.lists(_label, min_size=2, max_size=4).map(".".join)  # a '.' tells a host from a path part
_ipv6 = st.ip_addresses(v=6).map(lambda address: f"[{address}]")
_port = st.integers(1, 65535).map(lambda port: f":{port}")
HOSTS_OK = st.one_of(
    st.tuples(_dns | st.just("localhost") | _ipv6, st.just("") | _port).map("".join),
    st.tuples(_label, _port).map("".join),
)
_part = _joined(LOWER, [".", "_", "__", "-", "---"], 6)
_first_part = _joined(LOWER, ["_", "__", "-"], 6).filter(lambda part: part != "localhost")  # else it reads as a host
_tag = st.tuples(st.sampled_from(ALNUM + "_"), st.text(ALNUM + "_.-", max_size=127)).map("".join)
_algorithm = _joined("abcdefghijklmnopqrstuvwxyz0123456789", ["+", ".", "_", "-"], 6)
DIGESTS_OK = st.one_of(
    st.text(HEX, min_size=64, max_size=64).map(lambda h: f"sha256:{h}"),
    st.text(HEX, min_size=128, max_size=128).map(lambda h: f"sha512:{h}"),
    st.tuples(_algorithm.filter(lambda a: a not in ("sha256", "sha512")),
              st.text(ALNUM + "=_-", min_size=32, max_size=40)).map(":".join),
)


@st.composite
def valid_refs(draw: st.DrawFn) -> tuple[str, str | None, str, str | None, str | None]:
    """A reference from the grammar, and the registry, repository, tag and digest it stands for."""
    registry = draw(st.none() | HOSTS_OK)
    rest = draw(st.lists(_part, max_size=3))
    path = "/".join([draw(_part if registry else _first_part), *rest])
    tag = draw(st.none() | _tag)
    digest = draw(st.none() | DIGESTS_OK)
    text = f"{registry}/{path}" if registry else path
    text += (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    padded = draw(st.sampled_from(["", " ", "\t", " \t "])) + text + draw(st.sampled_from(["", " ", "\t"]))
    return padded, registry and registry.lower(), path, tag or (None if digest else "latest"), digest


# Pieces of the grammar and near misses, joined at random.
_PIECES = st.one_of(
    st.sampled_from(["/", ":", "@", ".", "-", "_", "__", "[", "]", "::1", "localhost", "sha256:", "sha512:",
                     "A", "0", "65536", "00", "latest", "://", " ", "\t", "\n", "\x00", "\u00fc", "\ud800"]),
    HOSTS_OK, _part, _tag, DIGESTS_OK, st.text(HEX, min_size=1, max_size=70),
    st.text(max_size=4),
)
REF_LIKE = st.lists(_PIECES, max_size=8).map("".join)


_EDITS = st.sampled_from(["", ":", "/", "@", ".", "-", "_", "[", "]", "A", "0", "00000", " ", "\n", "://", "sha256:",
                          "\u00fc"])


@st.composite
def near_valid_refs(draw: st.DrawFn) -> str:
    """A reference from the grammar with one to three small edits: a few characters cut or put in."""
    text = draw(valid_refs())[0]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_EDITS) + text[at + draw(st.integers(0, 2)) :]
    return text


def check_ref(text: str) -> ImageRef | None:
    """Parse `text`: an ImageRef whose parts keep the docstrings' promises, or None on ImageRefError."""
    try:
        ref = ImageRef.parse(text)
    except ImageRefError as exc:
        assert str(exc).isprintable(), "one line, the reference shown escaped"
        return None
    assert ref.registry is None or (ref.registry == ref.registry.lower() and ref.registry)
    assert "/" not in (ref.registry or "") and "@" not in (ref.registry or "")
    assert all(re.fullmatch(PATH_PART, part) for part in ref.repository.split("/")), ref
    assert ref.tag is None or re.fullmatch(TAG, ref.tag), ref
    assert ref.digest is None or re.fullmatch(DIGEST, ref.digest), ref
    assert ref.tag is not None or ref.digest is not None, "no tag and no digest means the tag latest"
    assert len(f"{ref.registry}/{ref.repository}" if ref.registry else ref.repository) <= 255
    assert ref.registry_host == (ref.registry or "docker.io")
    assert ref.digest_hex == (ref.digest.split(":", 1)[1] if ref.digest else None)
    # Printed and parsed again it is the same ref; with a digest the tag is left out of the print.
    again = ImageRef.parse(str(ref))
    assert again == (dataclasses.replace(ref, tag=None) if ref.digest else ref), (str(ref), again)
    assert str(again) == str(ref)
    return ref


@FUZZ_REFS
@given(text=st.text())
def test_any_text_is_a_ref_or_an_image_ref_error(text: str) -> None:
    check_ref(text)


@FUZZ_REFS
@given(text=REF_LIKE)
def test_text_built_from_the_grammar_is_a_ref_or_an_image_ref_error(text: str) -> None:
    check_ref(text)


@FUZZ_REFS
@given(text=near_valid_refs())
# each way to be refused, once for sure
@example("app:")
@example("app:.1")
@example("reg.io:65536/app")
@example("reg.io:4x/app")
@example("[1::2::3]/app")
@example("https://reg.io/app")
@example("app@sha256:" + "A" * 64)
def test_near_misses_of_the_grammar_are_a_ref_or_an_image_ref_error(text: str) -> None:
    check_ref(text)


@FUZZ_REFS
@given(case=valid_refs())
def test_refs_from_the_grammar_are_read_as_written(case: tuple[str, str | None, str, str | None, str | None]) -> None:
    text, registry, repository, tag, digest = case
    name = f"{registry}/{repository}" if registry else repository
    ref = check_ref(text)
    if len(name) > 255:
        assert ref is None
        return
    assert ref is not None, text
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
