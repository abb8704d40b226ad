"""The scanned images' software bill of materials, as CycloneDX 1.5 JSON (`--sbom`, GitLab `reports: cyclonedx`).

GitLab's dependency list reads CycloneDX 1.4, 1.5 and 1.6; 1.5 is the oldest of those with
vulnerability `properties` and `tools` as components, and the one most consumers read. The document
is built with cyclonedx-python-lib (imported when a BOM is rendered, never when the CLI starts) and
is valid against its strict 1.5 schema.

Mapping (one BOM for the run):
- `metadata.tools`: ci-scan and its version. `metadata.timestamp`: the latest known end of the run's
  scans; left out when none is known (a renderer never reads the clock). `serialNumber`: a UUID 5 of
  the run's scan ids, so one run always gives one serial; left out when no scan has an id.
- `metadata.component`: with one target, the target itself; with several (or none), an application
  "ci-scan run" (bom-ref `run`) whose dependencies are the targets, each a top-level component.
- A target is a component of type `container` (a host: `operating-system`): name the repository
  (`Target.repository`), version the tag, else the digest; for an image whose digest is known, purl
  `pkg:oci/<last path part>@<digest>?repository_url=<registry/path>&tag=<tag>`, the form `--vex`
  matches; bom-ref `<index>:target`. Properties `ci-scan:verdict`, `ci-scan:reason` and
  `ci-scan:scan-id`, and GitLab's `gitlab:container_scanning:image:name`/`:tag`. A target that could
  not be completed has no packages and no vulnerabilities.
- A package (`TargetResult.packages`) is a component of type `library`, bom-ref
  `<index>:<name>@<version>`: with one target, a top-level component; with several, nested under its
  target's `components`. The target depends on each of its packages. `purl` is derived from the
  locations (`purl_for`); `licenses` are SPDX ids or expressions where the text is one, else names
  (with several licences, expressions are given as names too: CycloneDX allows one expression alone);
  every location is a `ci-scan:location` property (not `evidence.occurrences`: the library orders
  occurrences without a bom-ref by memory address, so two renders would differ).
- `vulnerabilities`: one per vulnerability finding of a completed target (masked ones included),
  ordered by id then bom-ref `<index>:<rule>:<package bom-ref>`:
  - `id`, `source` NVD (CVE) or GitHub (GHSA) with the advisory's URL; `description` (at most
    DESCRIPTION_LIMIT characters); `advisories` the finding's link and `details.urls` (http(s) only);
  - one rating: the severity; the console's score only with method `other`, since `cve_cvss_score` is
    the CVSS exploitability sub-score, not a base score;
  - `recommendation` "Upgrade <package> to <fixed_in>" when a fixed version is known;
  - `affects` the package's bom-ref in that target: a finding whose package is not in the target's SBOM
    adds the package (from the finding's name, version and location), so every ref resolves;
  - `analysis`: VEX `not_affected` -> state not_affected with the CycloneDX justification where there is
    an equivalent (JUSTIFICATIONS), VEX `fixed` -> resolved, VEX `affected` (counted) -> exploitable,
    `under_investigation` -> in_triage; `detail` why ci-scan did not count it for every suppressed
    finding (ignored, existing, unfixed, masked) and for VEX ones; no state where ci-scan only decided;
  - properties `ci-scan:disposition` and `ci-scan:reason`.

Console text is untrusted: control characters, bidi controls and lone surrogates are removed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from ci_scan import __version__
from ci_scan.decision import SUPPRESSED, Decision, TargetDecision
from ci_scan.formats.base import Unique, dump_json, utc_datetime
from ci_scan.formats.text import clean, shorten
from ci_scan.models import Finding, Package, Severity, Target

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component
    from cyclonedx.model.license import License
    from packageurl import PackageURL

SPEC_VERSION = "1.5"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/deepfence/ThreatMapper#ci-scan/cyclonedx")
"""The namespace of serial numbers: fixed forever, or every serial would change."""
RUN_REF = "run"
TOOL_REF = "tool:ci-scan"
SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.5.schema.json"
RUN_NAME = "ci-scan run"
DESCRIPTION_LIMIT = 1_000
TEXT_LIMIT = 2_000
JUSTIFICATIONS: dict[str, str] = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
"""OpenVEX justification -> CycloneDX's. `vulnerable_code_cannot_be_controlled_by_adversary` has no
equivalent (it says nothing of where the protection is): it is left to `detail`."""
STATES: dict[str, str] = {
    "not_affected": "not_affected",
    "fixed": "resolved",
    "affected": "exploitable",
    "under_investigation": "in_triage",
}
SEVERITIES: dict[Severity, str] = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW: "low",
    Severity.UNKNOWN: "unknown",
}
_TOP_ORDER = ("serialNumber", "version", "metadata", "components", "dependencies", "vulnerabilities")
SCORE_NOTE = "Deepfence cve_cvss_score: the CVSS exploitability sub-score, not the base score"

_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_GHSA = re.compile(r"GHSA(?:-[0-9a-z]{4}){3}", re.IGNORECASE)
_HTTP_URL = re.compile(r"https?://[^\s\"<>\\^`{|}]+", re.IGNORECASE)
_LOCATIONS = re.compile(r":(?=/)")
"""Where the console joined several paths of one package (`/a:/b`)."""
_GO_MODULE = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/[^\s@]+")


# Package URLs.


@dataclass(frozen=True)
class PurlParts:
    """What `purl_for` derives: a purl's type, namespace and name (the version is the package's)."""

    type: str
    namespace: str | None
    name: str


def purl_parts(name: str, locations: Iterable[str]) -> PurlParts | None:
    """The purl type, namespace and name of a package from where it was found; None when nothing says.

    site-packages/dist-packages -> pypi; node_modules -> npm (a scope is the namespace); a .jar -> maven
    (a `group:artifact` name gives the group; else no namespace); /var/lib/dpkg -> deb; /lib/apk/db ->
    apk; /var/lib/rpm -> rpm (the distribution is unknown: no namespace); otherwise a name like a Go
    module path (a dot in its first segment and a slash) -> golang.
    """
    if not name:
        return None
    paths = [location.replace("\\", "/").lower() for location in locations]

    def found(*marks: str) -> bool:
        return any(mark in path for path in paths for mark in marks)

    if found("/site-packages/", "/dist-packages/"):
        return PurlParts("pypi", None, name)
    if found("/node_modules/"):
        scope, slash, rest = name.partition("/")
        scoped = slash and scope.startswith("@") and rest
        return PurlParts("npm", scope, rest) if scoped else PurlParts("npm", None, name)
    if any(path.endswith(".jar") or ".jar/" in path or ".jar!" in path for path in paths):
        group, colon, artifact = name.rpartition(":")
        return PurlParts("maven", group, artifact) if colon and group and artifact else PurlParts("maven", None, name)
    if found("/var/lib/dpkg/"):
        return PurlParts("deb", None, name)
    if found("/lib/apk/db/"):
        return PurlParts("apk", None, name)
    if found("/var/lib/rpm/", "/usr/lib/sysimage/rpm/"):
        return PurlParts("rpm", None, name)
    if _GO_MODULE.fullmatch(name):
        namespace, _, module = name.rpartition("/")
        return PurlParts("golang", namespace, module)
    return None


def purl_for(name: str, version: str, locations: Iterable[str]) -> PackageURL | None:
    """The package's purl (see `purl_parts`), or None when its ecosystem cannot be told."""
    from packageurl import PackageURL

    parts = purl_parts(name, locations)
    if parts is None:
        return None
    try:
        return PackageURL(type=parts.type, namespace=parts.namespace or None, name=parts.name,
                          version=version or None)
    except ValueError:
        return None


def image_purl(target: Target) -> PackageURL | None:
    """`pkg:oci/<name>@<digest>?repository_url=<registry/path>&tag=<tag>`; None without an image digest."""
    from packageurl import PackageURL

    image = target.image
    if image is None or not target.digest:
        return None
    qualifiers = {"repository_url": f"{image.registry_host}/{image.repository}"}
    if image.tag:
        qualifiers["tag"] = image.tag
    return PackageURL(type="oci", name=image.repository.rsplit("/", 1)[-1], version=target.digest,
                      qualifiers=qualifiers)


# The BOM.


class _Memo:
    """What many findings and packages of one render share (a URL checked by `XsUri`, a finding's links, a
    score, a rule's source, a reason, a licence parsed), worked out once per distinct value rather than for
    each finding or package. One per render, so its memory goes with the render. What it returns is shared
    by many entries, so its arrays are tuples (json writes them as lists), and nothing changes its dicts."""

    def __init__(self) -> None:
        self.advisories = _advisories_memo()
        self.license = cache(_license)
        self.ratings = cache(_ratings)
        self.source = cache(_source)
        self.properties = cache(_vulnerability_properties)


class _Affected(NamedTuple):
    """The package a vulnerability finding is on."""

    ref: str
    name: str
    """Its name as the recommendation says it."""
    affects: tuple[dict[str, str]]
    """The `affects` of its vulnerabilities, shared by all of them."""


@dataclass
class _Packages:
    """One target's package components, by (name, version), with unique bom-refs."""

    index: int
    refs: Unique
    memo: _Memo
    components: dict[tuple[str, str], Component] = field(default_factory=dict)
    affected: dict[str, _Affected] = field(default_factory=dict)
    """A finding's `component` -> its package: thousands of findings name the same few packages."""

    def add(self, name: str, version: str, locations: Sequence[str], licenses: Sequence[str]) -> Component:
        key = (name, version)
        component = self.components.get(key)
        if component is None:
            component = _package_component(self.unique_ref(f"{self.index}:{name}@{version}"), name, version,
                                           locations, licenses, self.memo)
            self.components[key] = component
        return component

    def affected_by(self, finding: Finding) -> _Affected:
        """The package of a vulnerability finding; added (from the finding) when the SBOM does not have it."""
        known = self.affected.get(finding.component)
        if known is None:
            # The name and version come from `component` alone, and only the first finding of a package
            # adds it (its locations are that finding's), so the first finding stands for the others.
            name = clean(finding.package_name, TEXT_LIMIT)
            locations = [part for part in _LOCATIONS.split(finding.location) if part]
            component = self.add(name or "unknown", clean(finding.package_version, TEXT_LIMIT), locations, ())
            ref = str(component.bom_ref.value)
            known = _Affected(ref, name or "the package", ({"ref": ref},))
            self.affected[finding.component] = known
        return known

    def unique_ref(self, base: str) -> str:
        """`base`, or `base#2`, `base#3`... when it is taken; taken from then on."""
        return self.refs.take(base, lambda number: f"{base}#{number}")


class CycloneDxFormat:
    name = "sbom"
    description = "CycloneDX 1.5 JSON software bill of materials of the scanned images, with their vulnerabilities"
    default_filename = "ci-scan.cdx.json"

    def render(self, decision: Decision) -> str:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.schema.schema import SCHEMA_VERSIONS

        # The library's own outputter (make_outputter) is not used: its Bom.validate and BomRefDiscriminator
        # are quadratic in the number of components (minutes for 10,000 packages), and the discriminator
        # gives a random bom-ref to any component without one. The BOM built here needs neither: every
        # bom-ref is set and unique, every dependency ref is a component, and no expression stands
        # beside another licence. So the BOM is serialized as the outputter does, with the 1.5 view.
        # The vulnerabilities are plain dicts in the library's key and set order: its Vulnerability objects
        # compare whole tuples of their fields in every sorted set, 21 s of 25 s for 20,000 findings.
        bom, vulnerabilities = _bom(decision)
        text: str = bom.as_json(view_=SCHEMA_VERSIONS[SchemaVersion.V1_5])  # type: ignore[attr-defined]
        body: dict[str, Any] = json.loads(text)
        # The library always writes a serial number and a timestamp, random and the clock's when not given.
        if not _serial(decision):
            body.pop("serialNumber", None)
        if _timestamp_ms(decision) is None:
            body.get("metadata", {}).pop("timestamp", None)
        if vulnerabilities:
            body["vulnerabilities"] = sorted(vulnerabilities, key=itemgetter("id", "bom-ref"))
        document = {"$schema": SCHEMA_URI, "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION}
        document.update((key, body.pop(key)) for key in _TOP_ORDER if key in body)
        document.update(body)
        return dump_json(document, indent=None)  # machines read it; indenting makes json 3x slower


def _bom(decision: Decision) -> tuple[Bom, list[dict[str, Any]]]:
    """The BOM without its vulnerabilities, and those as the library would serialize them."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency
    from cyclonedx.model.tool import ToolRepository

    tool = Component(type=ComponentType.APPLICATION, name="ci-scan", version=__version__, bom_ref=TOOL_REF)
    timestamp_ms = _timestamp_ms(decision)
    moment = utc_datetime(timestamp_ms) if timestamp_ms is not None else None
    metadata = BomMetaData(tools=ToolRepository(components=[tool]), timestamp=moment or utc_datetime(1),
                           properties=[_property("gitlab:meta:schema_version", "1")])
    refs = Unique(RUN_REF, TOOL_REF)
    memo = _Memo()
    single = len(decision.targets) == 1
    top: list[Component] = []
    vulnerabilities: list[dict[str, Any]] = []
    dependencies: list[Dependency] = []
    targets: list[Component] = []
    for index, target in enumerate(decision.targets):
        image = _target_component(target, index)
        refs.reserve(str(image.bom_ref.value))
        packages = _Packages(index, refs, memo)
        if target.result.completed:
            for package in _merged(target.result.packages):
                packages.add(clean(package.name, TEXT_LIMIT) or "unknown", clean(package.version, TEXT_LIMIT),
                             package.locations, package.licenses)
            vulnerabilities += _vulnerabilities(target, packages)
        components = list(packages.components.values())
        if single:
            metadata.component = image
            top += components
        else:
            image.components.update(components)
            top.append(image)
        dependencies.append(_dependency(image, components))
        dependencies += (_dependency(component, ()) for component in components)
        targets.append(image)
    if not single:
        root = Component(type=ComponentType.APPLICATION, name=RUN_NAME, bom_ref=RUN_REF)
        metadata.component = root
        dependencies.append(_dependency(root, targets))
    serial = _serial(decision)
    return Bom(metadata=metadata, serial_number=uuid.UUID(serial) if serial else None, components=top,
               dependencies=dependencies), vulnerabilities


def _dependency(component: Component, on: Iterable[Component]) -> Any:
    from cyclonedx.model.dependency import Dependency

    return Dependency(ref=component.bom_ref, dependencies=[Dependency(ref=c.bom_ref) for c in on])


def _timestamp_ms(decision: Decision) -> int | None:
    ends = [t.result.finished_at_ms for t in decision.targets if utc_datetime(t.result.finished_at_ms)]
    return max(ends, default=None)


def _serial(decision: Decision) -> str:
    """A UUID 5 of the run's scan ids; "" when no scan has one."""
    ids = [t.result.scan_id for t in decision.targets]
    if not any(ids):
        return ""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(ids).encode("utf-8", "surrogatepass").decode("utf-8", "replace")))


def _property(name: str, value: str) -> Any:
    from cyclonedx.model import Property

    return Property(name=name, value=value)


def _merged(packages: Iterable[Package]) -> list[Package]:
    """Each (name, version) once, with every location and licence of its rows, in the SBOM's order."""
    merged: dict[tuple[str, str], tuple[dict[str, None], dict[str, None]]] = {}
    for package in packages:
        locations, licenses = merged.setdefault((package.name, package.version), ({}, {}))
        locations.update(dict.fromkeys(package.locations))
        licenses.update(dict.fromkeys(package.licenses))
    return [Package(name, version, tuple(locations), tuple(licenses))
            for (name, version), (locations, licenses) in merged.items()]


def _target_component(target: TargetDecision, index: int) -> Component:
    from cyclonedx.model.component import Component, ComponentType

    node = target.result.target
    image = node.image
    version = (image.tag if image else None) or node.digest or (image.digest if image else None) or ""
    properties = [
        _property("ci-scan:verdict", target.verdict),
        _property("ci-scan:reason", clean(target.reason, TEXT_LIMIT) or "-"),
    ]
    if target.result.scan_id:
        properties.append(_property("ci-scan:scan-id", clean(target.result.scan_id, TEXT_LIMIT) or "-"))
    if image is not None:
        properties.append(_property("gitlab:container_scanning:image:name", clean(node.repository, TEXT_LIMIT)))
        if image.tag:
            properties.append(_property("gitlab:container_scanning:image:tag", image.tag))
    kind = ComponentType.OPERATING_SYSTEM if node.kind == "host" else ComponentType.CONTAINER
    return Component(
        type=kind,
        name=clean(node.repository, TEXT_LIMIT) or clean(node.node_id, TEXT_LIMIT) or "unknown",
        version=clean(version, TEXT_LIMIT) or None,
        purl=image_purl(node),
        bom_ref=f"{index}:target",
        properties=properties,
    )


def _package_component(ref: str, name: str, version: str, locations: Sequence[str], licenses: Sequence[str],
                       memo: _Memo) -> Component:
    from cyclonedx.model.component import Component, ComponentType

    places = list(dict.fromkeys(text for text in (clean(location, TEXT_LIMIT) for location in locations) if text))
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        version=version or None,
        purl=purl_for(name, version, places),
        licenses=_licenses(licenses, memo),
        properties=[_property("ci-scan:location", place) for place in places],
        bom_ref=ref,
    )


def _licenses(texts: Sequence[str], memo: _Memo) -> list[License]:
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression

    names = list(dict.fromkeys(text for text in (clean(t, 500) for t in texts) if text))
    made = [memo.license(name) for name in names]
    if len(made) > 1:  # an expression must stand alone: beside others it is a name
        made = [DisjunctiveLicense(name=lic.value) if isinstance(lic, LicenseExpression) else lic for lic in made]
    return made


def _license(name: str) -> License:
    """The SPDX licence, expression or name `name` is (components may share the object: none changes it)."""
    from cyclonedx.contrib.license.factories import LicenseFactory

    return LicenseFactory().make_from_string(name)


def _vulnerabilities(target: TargetDecision, packages: _Packages) -> list[dict[str, Any]]:
    return [_vulnerability(finding, target, packages.affected_by(finding), packages)
            for finding in target.result.findings if finding.kind == "vulnerability"]


def _vulnerability(finding: Finding, target: TargetDecision, package: _Affected, packages: _Packages) -> dict[str, Any]:
    """One entry of `vulnerabilities`, as the library would serialize it (keys in its order, sets sorted)."""
    memo = packages.memo
    rule = clean(finding.rule_id, 500) or "unknown"
    fixed_in = clean(finding.fixed_in, 500)
    disposition = target.disposition(finding)
    reason = clean(target.reason_for(finding), TEXT_LIMIT) or "-"
    entry: dict[str, Any] = {
        "advisories": memo.advisories(finding.link, finding.details.urls if finding.details else ()),
        "affects": package.affects,
        "analysis": _analysis(finding, target, disposition, reason),
        "bom-ref": packages.unique_ref(f"{package.ref}:{rule}"),
        "description": clean(finding.description, DESCRIPTION_LIMIT, multiline=True),
        "id": rule,
        "properties": memo.properties(disposition, reason),
        "ratings": memo.ratings(finding.severity, finding.score),
        "recommendation": f"Upgrade {package.name} to {fixed_in}" if fixed_in else None,
        "source": memo.source(rule),
    }
    return {key: value for key, value in entry.items() if value}


def _vulnerability_properties(disposition: str, reason: str) -> tuple[dict[str, str], ...]:
    return {"name": "ci-scan:disposition", "value": disposition}, {"name": "ci-scan:reason", "value": reason}


def _ratings(severity: Severity, score: float) -> tuple[dict[str, Any]]:
    """The severity; the console's score only with method `other` (see the module's docstring)."""
    rating: dict[str, Any] = {"severity": SEVERITIES[severity]}
    if score > 0:
        one_decimal = float(format(Decimal(str(score)), ".1f"))  # as the library writes it
        rating = {"justification": SCORE_NOTE, "method": "other", "score": one_decimal, **rating}
    return (rating,)


def _source(rule: str) -> dict[str, str] | None:
    if _CVE.fullmatch(rule):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{rule.upper()}"}
    if _GHSA.fullmatch(rule):
        return {"name": "GitHub", "url": f"https://github.com/advisories/{rule}"}
    return None


def _advisories_memo() -> Callable[[str, tuple[str, ...]], tuple[dict[str, str], ...]]:
    """The `advisories` of a finding's link and `details.urls`: those that are http(s) URLs, made valid URIs
    by the library's own rules (`XsUri`), sorted. Memoised, and so is each URL: findings of one advisory
    share them. The imports are made once here, not for each URL."""
    from cyclonedx.exception.model import InvalidUriException
    from cyclonedx.model import XsUri

    @cache
    def valid(text: str) -> str | None:
        address = clean(text, TEXT_LIMIT)
        if not _HTTP_URL.fullmatch(address):
            return None
        try:
            return str(XsUri(address))
        except InvalidUriException:
            return None

    @cache
    def advisories(link: str, urls: tuple[str, ...]) -> tuple[dict[str, str], ...]:
        addresses = {address for address in map(valid, (link, *urls)) if address}
        return tuple({"url": address} for address in sorted(addresses))

    return advisories


def _analysis(finding: Finding, target: TargetDecision, disposition: str, reason: str) -> dict[str, str] | None:
    # Most targets have no VEX statement: looking the finding up (hashing it) twice is then for nothing.
    has_vex = bool(target.vexed or target.vex_kept)
    statement = (target.vexed.get(finding) or target.vex_kept.get(finding)) if has_vex else None
    if statement is not None:
        justification = JUSTIFICATIONS.get(statement.justification) if statement.status == "not_affected" else None
        details = [reason]
        if statement.impact_statement:
            details.append(f"impact: {clean(statement.impact_statement, TEXT_LIMIT)}")
        if statement.action_statement:
            details.append(f"action: {clean(statement.action_statement, TEXT_LIMIT)}")
        analysis = {"detail": shorten("; ".join(details), TEXT_LIMIT), "justification": justification,
                    "state": STATES.get(statement.status)}
        return {key: value for key, value in analysis.items() if value}
    if disposition in SUPPRESSED:
        return {"detail": reason}
    return None
