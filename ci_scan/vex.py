"""OpenVEX documents (`--vex PATH`, repeatable): statements that a vulnerability does or does not affect an image.

The files are read and checked by `vex_reader`.

Matching a finding on a target:
- The vulnerability: `vulnerability.name`, its `@id` or one of its `aliases` equals the finding's rule id, ignoring
  case. Only vulnerability findings match.
- The product: one of the statement's products names the scanned image by its `@id` or one of its `identifiers`:
  - `pkg:oci/<name>@<digest>?repository_url=<registry/path>&tag=<tag>`: `repository_url`, when given, is the image's
    repository (registry host and path); without it the digest must be given (it names the image wherever
    it is) and `<name>` is the last part of the repository's path: a bare `pkg:oci/app` would name any `app`;
  - `pkg:docker/<namespace>/<name>@<tag or digest>?repository_url=<registry>`: namespace and name are the path,
    `repository_url` the registry host (Docker Hub when absent);
  - a plain image reference, `registry.example.com/team/app:1.0` or `team/app@sha256:...`; without a tag or digest it
    covers every tag of the repository.
  A digest, when the product gives one, must be the digest that was scanned (a product with a digest never matches a
  target whose digest is unknown); a tag, when it gives one, must be the target's tag. Docker Hub is written in any of
  its host names, and `library/` is implied for its one-part repositories. Anything else, a cpe for one, never
  names an image.
- Subcomponents: when the matching product lists subcomponents, only findings in one of those packages match: the
  subcomponent's purl name (or `namespace/name`, for Go modules and the like) is the finding's package name, ignoring
  case, and the purl's version, when it has one, is the package version exactly.
- A statement without products names nothing (in a file given to `--vex` there is no enclosing document to inherit
  products from), so it never matches.

Of the statements that match, the latest by timestamp (the statement's own, else its document's) decides: in OpenVEX a
later statement supersedes an earlier one. On equal timestamps the one loaded last wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from ci_scan.models import DOCKER_HUB, Finding, ImageRef, ImageRefError, Target

STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
JUSTIFICATIONS = (
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
SUPPRESSING = frozenset({"not_affected", "fixed"})
CONTEXT = "https://openvex.dev/ns"

_HUB_HOSTS = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
                        "hub.docker.com"})
_OLDEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)



@dataclass(frozen=True)
class Product:
    """One of a statement's products."""

    identifiers: tuple[str, ...]
    """Its `@id` and its `identifiers` values (purl, cpe22, cpe23)."""
    subcomponents: tuple[str, ...] = ()
    """The same of every subcomponent; when there are any, only findings in those packages match."""

    def denotes(self, target: Target) -> bool:
        return any(_names_image(identifier, target) for identifier in self.identifiers)

    def covers(self, finding: Finding) -> bool:
        return not self.subcomponents or any(_names_package(sub, finding) for sub in self.subcomponents)


@dataclass(frozen=True)
class VexStatement:
    """One statement of an OpenVEX document, its timestamp inherited from the document when it gives none."""

    vulnerability: str
    """`vulnerability.name`, such as CVE-2024-0001."""
    aliases: tuple[str, ...]
    """`vulnerability.aliases`, then its `@id`."""
    products: tuple[Product, ...]
    status: str
    """not_affected, affected, fixed or under_investigation."""
    justification: str
    """One of JUSTIFICATIONS, or "" (a not_affected statement may give an impact statement instead)."""
    impact_statement: str
    action_statement: str
    timestamp: dt.datetime | None
    """The statement's timestamp, else its document's."""
    where: str
    """`vex.json statement 3`, for the reports."""

    @property
    def suppresses(self) -> bool:
        return self.status in SUPPRESSING

    def matches(self, finding: Finding, target: Target) -> bool:
        if finding.kind != "vulnerability":
            return False
        wanted = finding.rule_id.casefold()
        if all(name.casefold() != wanted for name in (self.vulnerability, *self.aliases)):
            return False
        return any(product.denotes(target) and product.covers(finding) for product in self.products)

    def describe(self) -> str:
        why = self.justification or self.impact_statement  # not_affected gives one or the other
        reason = f" ({_plain(why)})" if why else ""
        return f"{_plain(self.vulnerability)} {self.status}{reason} by {_plain(self.where)}"


def applicable(statements: Iterable[VexStatement], finding: Finding, target: Target) -> VexStatement | None:
    """The statement that decides `finding` on `target`, whatever its status: the latest that matches, if any."""
    best: VexStatement | None = None
    best_time = _OLDEST
    for statement in statements:
        if not statement.matches(finding, target):
            continue
        time = _comparable(statement.timestamp)
        if best is None or time >= best_time:  # >=: on a tie the one loaded later wins
            best, best_time = statement, time
    return best


def _comparable(timestamp: dt.datetime | None) -> dt.datetime:
    if timestamp is None:
        return _OLDEST
    return timestamp if timestamp.tzinfo is not None else timestamp.replace(tzinfo=dt.timezone.utc)


def _plain(text: str) -> str:
    """`text` on one line: control characters from the file are shown escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


# Matching the image.


@dataclass(frozen=True)
class _Purl:
    type: str
    namespace: str
    name: str
    version: str
    qualifiers: Mapping[str, str]


def _parse_purl(text: str) -> _Purl | None:
    """`pkg:type/namespace/name@version?qualifiers#subpath`, each part URL-decoded; None when it is no purl."""
    scheme, colon, rest = text.strip().partition(":")
    if not colon or scheme.lower() != "pkg":
        return None
    rest, _, query = rest.lstrip("/").partition("#")[0].partition("?")
    kind, _, path = rest.partition("/")
    path = path.strip("/")
    version = ""
    at = path.rfind("@")
    if at > path.rfind("/"):  # an '@' before the last '/' is an npm scope, not a version
        path, version = path[:at], unquote(path[at + 1 :])
    parts = [unquote(part) for part in path.split("/") if part]
    if not kind or not parts:
        return None
    qualifiers: dict[str, str] = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            qualifiers[key.lower()] = unquote(value)
    return _Purl(kind.lower(), "/".join(parts[:-1]), parts[-1], version, qualifiers)


def _repository(host: str, path: str) -> str:
    """`host/path` as one spelling: Docker Hub's hosts as docker.io, with `library/` for its one-part paths."""
    host, path = host.lower(), path.strip("/").lower()
    if host in _HUB_HOSTS:
        host = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return f"{host}/{path}"


def _split_url(url: str) -> tuple[str, str]:
    """`https://registry.example.com/team/app` -> (`registry.example.com`, `team/app`); no host means Docker Hub."""
    url = url.strip()
    for scheme in ("https://", "http://"):
        if url.lower().startswith(scheme):
            url = url[len(scheme) :]
    first, _, rest = url.strip("/").partition("/")
    if "." in first or ":" in first or first == "localhost" or first.startswith("["):
        return first, rest
    return DOCKER_HUB, url.strip("/")


def _names_image(identifier: str, target: Target) -> bool:
    image = target.image
    if image is None:
        return False
    scanned = _repository(image.registry_host, image.repository)
    digest = target.digest or image.digest
    purl = _parse_purl(identifier)
    if purl is not None:
        return _purl_names_image(purl, scanned, image.tag, digest)
    if identifier.strip().lower().startswith("cpe:"):
        return False
    try:
        ref = ImageRef.parse(identifier)
    except ImageRefError:
        return False
    name = identifier.strip().partition("@")[0]
    tags = (ref.tag,) if ref.tag and name.rfind(":") > name.rfind("/") else ()  # parse adds `latest`; ignore that
    return _same_image(scanned, image.tag, digest, _repository(ref.registry_host, ref.repository), tags, ref.digest)


def _purl_names_image(purl: _Purl, scanned: str, tag: str | None, digest: str | None) -> bool:
    url = purl.qualifiers.get("repository_url", "")
    tags = (purl.qualifiers["tag"],) if purl.qualifiers.get("tag") else ()
    if purl.type == "oci":
        if url:
            host, path = _split_url(url)
            repository = _repository(host, path or purl.name)
        elif purl.version and scanned.rsplit("/", 1)[1] == purl.name.lower():
            repository = scanned  # no repository: the digest (the purl's version) names the image on its own
        else:
            return False
        return _same_image(scanned, tag, digest, repository, tags, purl.version or None)
    if purl.type == "docker":
        path = f"{purl.namespace}/{purl.name}" if purl.namespace else purl.name
        host, prefix = _split_url(url) if url else (DOCKER_HUB, "")
        if prefix:  # a repository_url with a path: the whole repository, or what goes before namespace/name
            path = prefix if prefix == path or prefix.endswith(f"/{path}") else f"{prefix}/{path}"
        if ":" in purl.version:
            return _same_image(scanned, tag, digest, _repository(host, path), tags, purl.version)
        version_tag = (purl.version,) if purl.version else ()
        return _same_image(scanned, tag, digest, _repository(host, path), tags + version_tag, None)
    return False


def _same_image(scanned: str, scanned_tag: str | None, scanned_digest: str | None, repository: str,
                tags: tuple[str, ...], digest: str | None) -> bool:
    if repository != scanned:
        return False
    if digest and (not scanned_digest or digest.lower() != scanned_digest.lower()):
        return False
    return all(tag == scanned_tag for tag in tags)


def _names_package(identifier: str, finding: Finding) -> bool:
    purl = _parse_purl(identifier)
    if purl is None:
        return False
    names = {purl.name.casefold()}
    if purl.namespace:
        names.add(f"{purl.namespace}/{purl.name}".casefold())
    if finding.package_name.casefold() not in names:
        return False
    return not purl.version or purl.version == finding.package_version


# Loading.
