"""The domain: what is scanned, what was found. Standard library only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import IntEnum

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
        return self.name.lower()


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_REPO_PART = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


class ImageRefError(ValueError):
    """An image reference that cannot be parsed."""


@dataclass(frozen=True)
class ImageRef:
    """`[registry/]repository[:tag]` or `[registry/]repository@sha256:...`."""

    registry: str | None
    """Registry host as written (with port), or None when the reference names none."""
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        ref = text.strip()
        if not ref:
            raise ImageRefError("the image reference is empty")
        if "://" in ref:
            raise ImageRefError(f"{text!r} looks like a URL; give an image reference such as registry/repo:tag")
        digest = None
        if "@" in ref:
            ref, digest = ref.split("@", 1)
            if not _DIGEST.match(digest):
                raise ImageRefError(f"{text!r} has a malformed digest; expected @sha256:<64 hex digits>")
        registry = None
        first, sep, rest = ref.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, ref = first.lower(), rest
        tag = None
        last_slash = ref.rfind("/")
        colon = ref.rfind(":")
        if colon > last_slash:
            ref, tag = ref[:colon], ref[colon + 1 :]
            if not _TAG.match(tag):
                raise ImageRefError(f"{text!r} has an invalid tag {tag!r}")
        parts = ref.split("/")
        if not ref or not all(_REPO_PART.match(p) for p in parts):
            raise ImageRefError(
                f"{text!r} is not a valid image reference; "
                "expected [registry/]repository[:tag] or repository@sha256:<digest>"
            )
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry=registry, repository=ref, tag=tag, digest=digest)

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


@dataclass(frozen=True)
class ScanTarget:
    """A node on the console that a scan runs on."""

    node_id: str
    node_type: str
    name: str
    """What users call it: the image reference they gave, a host name..."""
    registry_id: str | None = None
    image: ImageRef | None = None

    @property
    def digest(self) -> str | None:
        return self.image.digest if self.image else None


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one package of the scanned node."""

    cve_id: str
    severity: Severity
    package: str
    """The package as the console names it, `name:version`."""
    package_path: str = ""
    fixed_in: str = ""
    cvss_score: float = 0.0
    description: str = ""
    link: str = ""
    cve_type: str = ""
    layer: str = ""
    attack_vector: str = ""
    epss_score: float = 0.0
    cisa_kev: bool = False
    exploit_poc: str = ""
    urls: tuple[str, ...] = ()
    suppressed: bool = False
    """Masked in the console: reported, never counted against the gate."""
    result_id: str = ""
    """The console's id of this finding (`node_id` of the result)."""

    @property
    def package_name(self) -> str:
        return self.package.rsplit(":", 1)[0] if ":" in self.package else self.package

    @property
    def package_version(self) -> str:
        return self.package.rsplit(":", 1)[1] if ":" in self.package else ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a finding distinct within one scan."""
        return (self.cve_id, self.package, self.package_path)

    def fingerprint(self, target_name: str) -> str:
        """Stable across scans of the same repository, whatever the tag or digest."""
        text = "\x1f".join((target_name, *self.key))
        # surrogatepass: a console's JSON may carry lone surrogates, and a fingerprint must not crash
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    @property
    def sort_key(self) -> tuple[int, float, str, str]:
        """Most severe first, then highest score, then by id and package."""
        return (-int(self.severity), -self.cvss_score, self.cve_id, self.package)


@dataclass(frozen=True)
class ScanResult:
    """A completed scan and everything the console found."""

    target: ScanTarget
    scan_id: str
    findings: tuple[Finding, ...]
    console_url: str = ""
    console_counts: dict[str, int] = field(default_factory=dict)
    """`severity_counts` as the console reports it (unmasked findings only)."""
    started_at_ms: int = 0
    finished_at_ms: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.suppressed)

    @property
    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed)

    def counts(self) -> dict[Severity, int]:
        """Unmasked findings per severity, every severity present, most severe first."""
        counts = dict.fromkeys(sorted(Severity, reverse=True), 0)
        for finding in self.findings:
            if not finding.suppressed:
                counts[finding.severity] += 1
        return counts
