"""The domain: what is scanned, what was found. Standard library only."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Literal

DOCKER_HUB = "docker.io"


class Severity(IntEnum):
    """Console severities, ordered so that comparisons read naturally."""

    UNKNOWN = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a console or user severity; anything unrecognised is UNKNOWN."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            return cls.UNKNOWN

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]


_SEVERITY_LABELS = {severity: severity.name.lower() for severity in Severity}
"""Asked for every finding of every report: a lookup, not a lower-casing each time."""

# The Docker/OCI distribution reference grammar (github.com/distribution/reference, OCI image-spec
# descriptor digests). Every pattern is used with fullmatch: `$` would let a trailing newline through.
_DIGEST = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[+._-][a-z0-9]+)*):(?P<encoded>[a-zA-Z0-9=_-]{32,})")
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
"""Registered algorithms, held to exactly this many lowercase hex digits."""
_LOWER_HEX = re.compile(r"[0-9a-f]+")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_TAG_MAX = 128
_REPO_PART = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*")
_IPV6_LITERAL = re.compile(r"\[[a-fA-F0-9:]+\]")
_PORT = re.compile(r"[0-9]+")
_PORT_MAX = 65535
_NAME_MAX = 255
"""Host and path together, as distribution's NameTotalLengthMax."""
_VALID_REFS = (
    "a valid reference looks like 'registry.example.com:5000/team/app:1.4.2', 'nginx' "
    "or 'team/app@sha256:<64 lowercase hex digits>'"
)


class ImageRefError(ValueError):
    """An image reference that cannot be parsed; the message is one line, the reference shown escaped."""


def _refused(text: str, problem: str) -> ImageRefError:
    # repr: a newline or other control character in `text` is shown escaped, never printed raw
    return ImageRefError(f"{text!r} {problem}; {_VALID_REFS}")


def _is_ipv6(address: str) -> bool:
    import ipaddress  # here rather than at the top: only bracketed registry hosts need it

    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ImageRef:
    """`[host[:port]/]path[:tag][@algorithm:encoded]`, as the Docker/OCI distribution grammar has it."""

    registry: str | None
    """Registry host as written (with port), or None when the reference names none."""
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Read an image reference; spaces and tabs around it are ignored, anything else not in the grammar refused.

        No tag and no digest means the tag `latest`; `name:tag@digest` keeps both.
        """
        ref = text.strip(" \t")
        if not ref:
            raise ImageRefError(f"the image reference is empty; {_VALID_REFS}")
        odd = next((char for char in ref if not " " <= char <= "~"), None)
        if odd is not None:
            kind = "a non-ASCII" if odd > "\x7f" else "a control"
            raise _refused(text, f"contains {kind} character {odd!r} (U+{ord(odd):04X})")
        if "://" in ref:
            raise ImageRefError(f"{text!r} looks like a URL; give an image reference such as registry/repo:tag")
        name, at, digest = ref.partition("@")
        if at:
            cls._check_digest(text, digest)
        tag = None
        colon = name.rfind(":")
        if colon > name.rfind("/"):
            name, tag = name[:colon], name[colon + 1 :]
            cls._check_tag(text, tag)
        if len(name) > _NAME_MAX:
            raise _refused(text, f"has a name of {len(name)} characters; host and path are at most {_NAME_MAX}")
        registry = None
        path = name
        first, sep, rest = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            registry, path = cls._check_host(text, first), rest
        cls._check_path(text, path)
        if tag is None and not at:
            tag = "latest"
        return cls(registry=registry, repository=path, tag=tag, digest=digest if at else None)

    @staticmethod
    def _check_digest(text: str, digest: str) -> None:
        match = _DIGEST.fullmatch(digest)
        if match is None:
            raise _refused(
                text,
                f"has a malformed digest {digest!r}; a digest is algorithm:encoded with at least 32 encoded "
                "characters",
            )
        algorithm, encoded = match["algorithm"], match["encoded"]
        length = _DIGEST_HEX_LENGTHS.get(algorithm)
        if length is not None and (len(encoded) != length or not _LOWER_HEX.fullmatch(encoded)):
            raise _refused(
                text,
                f"has a malformed {algorithm} digest ({len(encoded)} characters after {algorithm + ':'!r}); "
                f"{algorithm} digests are exactly {length} lowercase hex digits",
            )

    @staticmethod
    def _check_tag(text: str, tag: str) -> None:
        if _TAG.fullmatch(tag):
            return
        if not tag:
            problem = "has an empty tag after ':'"
        elif len(tag) > _TAG_MAX:
            problem = f"has a tag of {len(tag)} characters; tags are at most {_TAG_MAX}"
        elif tag[0] in ".-":
            problem = f"has a tag {tag!r} starting with {tag[0]!r}; tags start with a letter, digit or '_'"
        else:
            problem = f"has an invalid tag {tag!r}; tags are ASCII letters, digits, '_', '.' and '-'"
        raise _refused(text, problem)

    @staticmethod
    def _check_host(text: str, host: str) -> str:
        """The registry host, lower-cased, once its name (or IPv6 literal) and port are valid."""
        if host.startswith("["):
            end = host.find("]") + 1
            address, port = host[:end], host[end:]
            if not _IPV6_LITERAL.fullmatch(address) or not _is_ipv6(address[1:-1]) or port[:1] not in ("", ":"):
                raise _refused(text, f"has an invalid IPv6 registry host {host!r}; write it as '[::1]' or '[::1]:5000'")
        else:
            address, colon, port = host.partition(":")
            port = colon + port
            if not _DOMAIN_NAME.fullmatch(address):
                raise _refused(
                    text,
                    f"has an invalid registry host {address!r}; a host is a DNS name such as registry.example.com "
                    "(letters, digits and inner '-', joined by '.') or a bracketed IPv6 address",
                )
        if port:
            digits = port[1:]
            if not _PORT.fullmatch(digits):
                raise _refused(text, f"has an invalid registry port {digits!r}; a port is a number, 1 to {_PORT_MAX}")
            if not 1 <= int(digits) <= _PORT_MAX:
                raise _refused(text, f"has registry port {digits} out of range; a port is from 1 to {_PORT_MAX}")
        return host.lower()

    @staticmethod
    def _check_path(text: str, path: str) -> None:
        if not path:
            raise _refused(text, "has no repository path")
        for part in path.split("/"):
            if _REPO_PART.fullmatch(part):
                continue
            if not part:
                problem = "has an empty path component (a leading, trailing or doubled '/')"
            elif _REPO_PART.fullmatch(part.lower()):
                problem = f"has uppercase letters in {part!r}; repository paths are lowercase"
            else:
                problem = (
                    f"has an invalid path component {part!r}; path components are lowercase letters and digits "
                    "joined by '.', '_', '__' or dashes"
                )
            raise _refused(text, problem)

    @property
    def registry_host(self) -> str:
        """The registry host, Docker Hub when the reference names none."""
        return self.registry or DOCKER_HUB

    @property
    def digest_hex(self) -> str | None:
        return self.digest.split(":", 1)[1] if self.digest else None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag and not self.digest:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


TargetKind = Literal["image", "host", "container"]
FindingKind = Literal["vulnerability", "secret", "malware"]


@dataclass(frozen=True)
class Target:
    """A node on the console that a scan runs on."""

    kind: TargetKind
    node_id: str
    node_type: str
    """The node type the console's scan requests take (`image`, `host`, `container`)."""
    name: str
    """What users call it: the image reference they gave, a host name..."""
    image: ImageRef | None = None
    registry_id: str | None = None
    digest: str | None = None
    """The digest that was scanned (`sha256:...`), when known: what a deployment should pin."""

    @property
    def repository(self) -> str:
        """`registry.example.com/team/app` without tag or digest, so it survives re-tagging."""
        if self.image is None:
            return self.name
        return f"{self.image.registry_host}/{self.image.repository}"


_VERSION_START = re.compile(r":(?=v?[0-9])")
"""Where the version starts in `name:version`: names may hold colons (Maven's `group:artifact`), and so
may versions (Debian's epoch, `1:2.31-13`), but a version starts with a digit (or `v` and a digit)."""


def _split_component(component: str) -> tuple[str, str]:
    start = _VERSION_START.search(component)
    if start is not None and start.start() > 0:
        return component[: start.start()], component[start.end() :]
    name, colon, version = component.rpartition(":")
    return (name, version) if colon and name else (component, "")


@dataclass(frozen=True)
class VulnerabilityDetails:
    """What only a vulnerability finding has."""

    cve_type: str = ""
    layer: str = ""
    attack_vector: str = ""
    """The console's lower-cased CVSS vector string."""
    network: str = ""
    """`parsed_attack_vector`: `network` or `local`."""
    overall_score: float = 0.0
    """`cve_overall_score`: the CVSS exploitability sub-score, 0 when unknown."""
    epss_score: float = 0.0
    cisa_kev: bool = False
    exploit_poc: str = ""
    live_connection: bool = False
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One finding of any scan kind on one node."""

    kind: FindingKind
    rule_id: str
    """The CVE or GHSA id of a vulnerability, the rule of a secret or malware match."""
    severity: Severity
    component: str
    """Where it sits: `name:version` of a package, or a file."""
    location: str = ""
    """File paths of the component (the console joins several with `:`)."""
    fixed_in: str = ""
    score: float = 0.0
    """The console's score of the finding (for vulnerabilities `cve_cvss_score`)."""
    description: str = ""
    link: str = ""
    masked: bool = False
    """Masked in the console: reported, never counted against the gate."""
    result_id: str = ""
    """The console's id of this finding (`node_id` of the result)."""
    details: VulnerabilityDetails | None = None

    @property
    def place(self) -> str:
        """The location, unless it only repeats the component (a secret's or malware's file is both)."""
        return "" if self.location == self.component else self.location

    def __hash__(self) -> int:
        # Findings key the decision's sets and maps, and every report asks about each finding several
        # times: the dataclass's own hash went over every field (the details too) on every call. These
        # few tell findings apart as well; equality still compares every field. Nothing is kept on the
        # finding: an attribute more would give each of them a dict of its own (a KiB per finding).
        return hash((self.kind, self.rule_id, self.component, self.location, self.result_id))

    @property
    def package_name(self) -> str:
        return _split_component(self.component)[0]

    @property
    def package_version(self) -> str:
        return _split_component(self.component)[1]

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a finding distinct within one scan."""
        return (self.rule_id, self.component, self.location)

    def fingerprint(self, target_name: str) -> str:
        """Stable across scans of the same repository, whatever the tag or digest."""
        # Vulnerabilities keep the fingerprints of earlier versions; other kinds name their kind.
        kind = () if self.kind == "vulnerability" else (self.kind,)
        text = "\x1f".join((target_name, *kind, *self.key))
        # surrogatepass: a console's JSON may carry lone surrogates, and a fingerprint must not crash
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    @property
    def sort_key(self) -> tuple[int, float, str, str]:
        """Most severe first, then highest score, then by id and component."""
        return (-int(self.severity), -self.score, self.rule_id, self.component)


def severity_counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    """Unmasked findings per severity, every severity present, most severe first."""
    counts = dict.fromkeys(sorted(Severity, reverse=True), 0)
    for finding in findings:
        if not finding.masked:
            counts[finding.severity] += 1
    return counts


@dataclass(frozen=True)
class Package:
    """One package of a scanned node's software bill of materials, as the console lists it."""

    name: str
    version: str = ""
    locations: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetResult:
    """What one target's scan came to: its findings, or why it could not be completed."""

    target: Target
    scan_id: str = ""
    status: str = ""
    """The console's last status of the scan (`COMPLETE`, `ERROR`...); "" before it started."""
    findings: tuple[Finding, ...] = ()
    console_counts: Mapping[str, int] = field(default_factory=dict)
    """`severity_counts` as the console reports it (unmasked findings only)."""
    started_at_ms: int = 0
    finished_at_ms: int = 0
    error: str = ""
    """Why the scan could not be completed; "" when it was."""
    timed_out: bool = False
    """Still running when the run's time ran out."""
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """How the scan was obtained, when that is worth saying (reused, attached to a running one)."""
    packages: tuple[Package, ...] = ()
    """The scan's SBOM (vulnerability scans), each package once; () when the console has none."""
    timed_out_kinds: tuple[str, ...] = ()
    """In a run of several scan kinds: which kinds' scans were still running when --timeout ran out."""
    partial: bool = False
    """In a run of several scan kinds, some could not be completed: `findings` are those of the kinds that were."""
    outage: bool = False
    """The scan could not be completed because the console could not be reached, failed or did not answer
    in time (not because its data contradicted itself): what `--on-error pass` lets through."""

    @property
    def completed(self) -> bool:
        return not self.error and not self.timed_out

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.masked)

    @property
    def masked(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.masked)

    def counts(self) -> dict[Severity, int]:
        return severity_counts(self.findings)

    @cached_property
    def in_report_order(self) -> tuple[Finding, ...]:
        """The findings as every report lists them (`report_key`): sorted once for all of a run's reports."""
        return tuple(sorted(self.findings, key=report_key))


def report_key(finding: Finding) -> tuple[int, float, str, str, str, str]:
    """Most severe first; ties broken on every identifying field so the order is total."""
    return (*finding.sort_key, finding.location, finding.result_id)


@dataclass(frozen=True)
class RunResult:
    """Every target of one run."""

    targets: tuple[TargetResult, ...]
    console_url: str = ""
    scan_kinds: tuple[FindingKind, ...] = ("vulnerability",)
    """What the run scanned for (`--scan-type`)."""
    warnings: tuple[str, ...] = ()
    error: str = ""
    """Why the run ended before it had any target to gate (the console unreachable, an image missing...)."""
    timed_out: bool = False
    """That run ended so because --timeout ran out."""
    outage: bool = False
    """That run ended so because the console could not be reached, failed or did not answer in time."""
    stopped_by: str = ""
    """The signal that stopped the run (`SIGINT`, `SIGTERM`: a cancelled CI job), if one did."""
    usage_error: bool = False
    """That run ended so because of its settings (exit 2), e.g. a baseline the console does not have."""
