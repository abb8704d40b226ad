"""GitLab container-scanning report (security report schema 15.2.1), for `artifacts: reports: container_scanning:`.

GitLab ingests reports of schema versions 15.0.x-15.2.x only and drops a report that fails validation,
so the report is held to the 15.2.1 schema and says `"version": "15.2.1"`.

Mapping:
- `scan`: type `container_scanning`; `analyzer` and `scanner` are both ci-scan (id, name, vendor and
  version; no `url`, which the schema does not require). `start_time` is the earliest known start of
  the run's scans and `end_time` the latest known end, in GitLab's format (`2024-11-28T00:00:00`,
  UTC, no zone, whole seconds). When only one end is known it stands for both; when none is,
  both are `1970-01-01T00:00:00`: a renderer never reads the clock. `status` is `success` when the
  run has targets and every one was completed, else `failure`.
- `scan.messages` (levels info/warn/fatal only): `fatal` for each target whose scan could not be
  completed, `warn` for each that timed out, each with the target's label and reason; `fatal`
  "nothing was scanned" for a run with no target; then `warn` for every warning of a target, of the
  run and of the decision (expired or stale ignore entries...).
- `vulnerabilities`: one per *vulnerability* finding of a completed target, targets in the run's order,
  findings most severe first (`TargetResult.in_report_order`). Secret and malware findings are not container-scanning
  vulnerabilities and are left out, as are the findings of targets that were not completed (none of
  them was gated). Findings masked in the console, suppressed by VEX or accepted by the ignore file
  are left out too: they are accepted, and GitLab has no state for "accepted" in a report, so they
  would show as new in every pipeline. Failing, passing, existing, unfixed and expired ones are kept.
  - `id`: a UUID 5 of the target's repository and `finding_fingerprint`, so it is stable across runs
    and across tags and digests of one repository. A second finding with the same id in one report
    (two tags of one repository in a run, or a row the console repeated) gets one derived from its
    target's label too (and a counter when that is taken), so ids are unique within a report.
  - `name`: `<id> in <package>` (at most 255 characters); `description`: the console's description
    (at most 10,000 characters; left out when the console gives none).
  - `severity`: Critical, High, Medium, Low or Unknown (the console has no "Info").
  - `solution`: `Upgrade <package> to <fixed_in>` when a fixed version is known, else left out.
  - `identifiers`: one, the finding's id: type `cve` for `CVE-YYYY-NNNN` (url: the console's link,
    else NVD's page), `ghsa` for `GHSA-xxxx-xxxx-xxxx` (url: the link, else GitHub's advisory page),
    otherwise `deepfence` (url: the link, when there is one).
  - `links`: the finding's `details.urls`, each an http(s)/ftp URL (others are left out).
  - `location`: `image` is the target's name, with `@<digest>` when the digest that was scanned is
    known and the name does not hold it; `operating_system` is "unknown" (the console does not say);
    `dependency` is the package name and version from `Finding.component`. No
    `default_branch_image`: ci-scan cannot know the image of the default branch.
  - `details` (a named list): `ci_scan_disposition` and `ci_scan_reason`, the finding's part in the
    gate and why, so that a reader sees why it fails or passes; `path` when the console gives one.
- `remediations`: empty (the schema's remediations are git patches).

Console text is untrusted: besides the JSON escaping of `dump_json`, control characters (but tab and
line feed in descriptions), C1 controls, bidi embeddings, overrides and isolates and lone surrogates
are removed from every string taken from it, and URLs are percent-encoded where they hold anything a
URL may not.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from ci_scan import __version__
from ci_scan.decision import Decision, Disposition, TargetDecision
from ci_scan.formats.base import (
    Unique,
    finding_fingerprint,
    target_labels,
    utc_datetime,
    without_surrogates,
)
from ci_scan.formats.text import clean, shorten
from ci_scan.models import Finding, Severity, Target

SCHEMA_VERSION = "15.2.1"
UNKNOWN_OS = "unknown"
UNKNOWN_TIME = "1970-01-01T00:00:00"
"""scan.start_time and end_time when no scan of the run has a known time."""
NAME_LIMIT = 255
DESCRIPTION_LIMIT = 10_000
SOLUTION_LIMIT = 7_000
DETAIL_LIMIT = 10_000
URL_LIMIT = 2048
KEPT: frozenset[Disposition] = frozenset({"failing", "passing", "existing", "unfixed", "expired"})
"""The dispositions reported; masked, vex and ignored findings are accepted and left out."""
SEVERITIES: dict[Severity, str] = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.UNKNOWN: "Unknown",
}
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/deepfence/ThreatMapper#ci-scan/gitlab-report")
"""The namespace of vulnerability ids: fixed forever, or every id would change."""
TOOL = {"id": "ci-scan", "name": "ci-scan", "vendor": {"name": "ci-scan"}, "version": __version__}

_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_GHSA = re.compile(r"GHSA(?:-[0-9a-z]{4}){3}", re.IGNORECASE)
_URL_START = re.compile(r"(https?|ftp)://", re.IGNORECASE)
_URL_SAFE = "/?#[]@!$&'()*+,;=:%~-._"
_URL_PLAIN = re.compile(r"[A-Za-z0-9/?#\[\]@!$&'()*+,;=:~._-]*")
"""URL text that percent-encoding would leave as it is (`%` is left out: it may need encoding)."""
_PLAIN_URL = re.compile(r"(?:https?|ftp)://[A-Za-z0-9/?#\[\]@!$&'()*+,;=:~._-]+")
"""A URL that `url` returns as it is: a lower-case scheme, then only `_URL_PLAIN` text."""
_NAMESPACE_BYTES = NAMESPACE.bytes
_JSON = json.JSONEncoder(ensure_ascii=False)
"""json.dumps(..., ensure_ascii=False) without making an encoder for every row."""


class GitlabFormat:
    name = "gitlab_report"
    description = "GitLab container-scanning report (schema 15.2.1): merge request widget and vulnerability report"
    default_filename = "gl-container-scanning-report.json"

    def render(self, decision: Decision) -> str:
        labels = target_labels([t.result.target for t in decision.targets])
        builder = _Vulnerabilities()
        # The text is what `dump_json(document, indent=None)` writes, byte for byte (machines read it;
        # indenting makes json 3x slower), but each vulnerability is written as soon as it is made: the
        # 20,000 of a big run are never all alive as objects, for the garbage collector to go over.
        rows = [
            row
            for target, label in zip(decision.targets, labels, strict=True)
            if target.result.completed
            for row in builder.rows(target, label)
        ]
        text = "".join((
            '{"version": ', _JSON.encode(SCHEMA_VERSION),
            ', "scan": ', _JSON.encode(_scan(decision, labels)),
            ', "vulnerabilities": [', ", ".join(rows), '], "remediations": []}\n',
        ))
        try:
            text.encode("utf-8")  # as dump_json: far faster than searching for surrogates almost never there
        except UnicodeEncodeError:
            return without_surrogates(text)
        return text


def url(text: str) -> str | None:
    """`text` as an http(s) or ftp URL the schema accepts, percent-encoded where needed; None if it is none."""
    if len(text) <= URL_LIMIT and _PLAIN_URL.fullmatch(text):
        return text  # most URLs: nothing to clean (no control or space) and nothing to encode
    text = clean(text, URL_LIMIT)
    start = _URL_START.match(text)
    if start is None or len(text) == start.end():
        return None
    rest = text[start.end():]
    if not _URL_PLAIN.fullmatch(rest):
        rest = quote(rest, safe=_URL_SAFE)
    return f"{start.group(1).lower()}://{rest}"


def gitlab_time(epoch_ms: int) -> str | None:
    """`2024-11-28T00:00:00` (UTC, no zone, whole seconds); None when unknown."""
    moment = utc_datetime(epoch_ms)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") if moment else None


def image_name(target: Target) -> str:
    """The target's name as given, without any `@<digest>`: GitLab tracks a finding by the image name
    without its tag (what follows the last `:`) and the package, so a digest there would make every
    finding new at every tag. The digest is in the vulnerability's details."""
    name = target.name.partition("@")[0] if target.image is not None else target.name
    return clean(name, 1024) or clean(target.node_id, 1024) or "unknown"


def vulnerability_id(finding: Finding, target: Target) -> str:
    """Stable across runs, tags and digests: a UUID 5 of the repository and the finding's fingerprint."""
    return _uuid5(f"{target.repository}\x1f{finding_fingerprint(finding, target)}")


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))` in a third of the time, without making a UUID object: the same
    SHA-1 of the namespace and the UTF-8 name, with the same version and variant bits (RFC 4122 4.3)."""
    raw = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    raw[6] = raw[6] & 0x0F | 0x50  # version 5
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    digits = raw.hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class _Vulnerabilities:
    """Writes the report's vulnerabilities, one render at a time.

    A big run repeats the same packages, links, dispositions and reasons in thousands of findings, so
    what is made of them (URLs, solutions, the JSON of `location` and `details`) is made once per
    distinct value.
    """

    def __init__(self) -> None:
        self._taken = Unique()
        """The ids given so far: ids are unique within a report."""
        self._urls: dict[str, str | None] = {}
        """What `url` makes of each text seen."""
        self._solutions: dict[tuple[str, str], str] = {}
        """(cleaned package, the console's fixed_in) -> the solution ("" for none)."""

    def rows(self, target: TargetDecision, label: str) -> Iterator[str]:
        """The JSON of each vulnerability of one completed target, most severe first."""
        image = target.result.target
        shown = image_name(image)
        digest = clean(image.digest or "", DETAIL_LIMIT)
        # Per target, as they hold its image or digest: component -> (package, location);
        # (component, disposition, reason, path) -> the JSON of `location` and `details`.
        packages: dict[str, tuple[str, dict[str, object]]] = {}
        tails: dict[tuple[str, Disposition, str, str], str] = {}
        for finding in target.result.in_report_order:
            if finding.kind != "vulnerability":
                continue
            disposition = target.disposition(finding)
            if disposition not in KEPT:
                continue
            entry: dict[str, object] = {"id": self._unique_id(vulnerability_id(finding, image), label)}

            rule = clean(finding.rule_id, NAME_LIMIT) or "unknown"
            known = packages.get(finding.component)
            if known is None:  # package_name and package_version are made from the component alone
                known = packages[finding.component] = _location(finding, shown)
            package, location = known
            entry["name"] = shorten(f"{rule} in {package}" if package else rule, NAME_LIMIT)
            description = clean(finding.description, DESCRIPTION_LIMIT, multiline=True)
            if description:
                entry["description"] = description
            entry["severity"] = SEVERITIES[finding.severity]
            solution = self._solution(package, finding.fixed_in)
            if solution:
                entry["solution"] = solution
            entry["identifiers"] = [self._identifier(rule, finding.link)]
            links = self._links(finding)
            if links:
                entry["links"] = links

            # `location` and `details`, the entry's last keys, are most often those of many other findings:
            # their JSON is written once, and joined to that of the rest of the entry (`{...}` without
            # its closing brace).
            reason = target.reason_for(finding)
            key = (finding.component, disposition, reason, finding.location)
            tail = tails.get(key)
            if tail is None:
                details = _details(disposition, reason, finding.location, digest)
                tail = tails[key] = _JSON.encode({"location": location, "details": details})[1:-1]
            yield f"{_JSON.encode(entry)[:-1]}, {tail}}}"

    def _unique_id(self, base: str, label: str) -> str:
        def numbered(number: int) -> str:
            suffix = label if number == 2 else f"{label}\x1f{number}"
            return _uuid5(f"{base}\x1f{suffix}")

        return self._taken.take(base, numbered)

    def _url(self, text: str) -> str | None:
        """`url(text)`, made once per distinct text: a finding's link is most often also one of its URLs."""
        if text in self._urls:
            return self._urls[text]
        address = self._urls[text] = url(text)
        return address

    def _solution(self, package: str, fixed_in: str) -> str:
        key = (package, fixed_in)
        solution = self._solutions.get(key)
        if solution is None:
            cleaned = clean(fixed_in, SOLUTION_LIMIT)
            solution = shorten(f"Upgrade {package or 'the package'} to {cleaned}", SOLUTION_LIMIT) if cleaned else ""
            self._solutions[key] = solution
        return solution

    def _identifier(self, rule: str, link: str) -> dict[str, str]:
        given = self._url(link)
        if _CVE.fullmatch(rule):
            kind, fallback = "cve", f"https://nvd.nist.gov/vuln/detail/{rule}"
        elif _GHSA.fullmatch(rule):
            kind, fallback = "ghsa", f"https://github.com/advisories/{rule}"
        else:
            kind, fallback = "deepfence", ""
        identifier = {"type": kind, "name": rule, "value": rule}
        if given or fallback:
            identifier["url"] = given or fallback
        return identifier

    def _links(self, finding: Finding) -> list[dict[str, str]]:
        urls = finding.details.urls if finding.details else ()
        seen: dict[str, None] = {}
        for text in urls:
            address = self._url(text)
            if address:
                seen.setdefault(address)
        return [{"url": address} for address in seen]


def _location(finding: Finding, image: str) -> tuple[str, dict[str, object]]:
    """The finding's cleaned package name, and its `location` in `image`."""
    package = clean(finding.package_name, NAME_LIMIT)
    location: dict[str, object] = {
        "dependency": {
            "package": {"name": package},
            "version": clean(finding.package_version, NAME_LIMIT),
        },
        "operating_system": UNKNOWN_OS,
        "image": image,
    }
    return package, location


def _details(disposition: Disposition, reason: str, path: str, digest: str) -> dict[str, dict[str, str]]:
    """`details` from the finding's disposition, its reason and location (both from the console) and the
    target's cleaned digest."""
    details = {
        "ci_scan_disposition": _text("ci-scan disposition", disposition),
        "ci_scan_reason": _text("ci-scan reason", clean(reason, DETAIL_LIMIT) or "-"),
    }
    path = clean(path, DETAIL_LIMIT)
    if path:
        details["path"] = _text("Path", path)
    if digest:
        details["image_digest"] = _text("Image digest", digest)
    return details


def _scan(decision: Decision, labels: list[str]) -> dict[str, object]:
    results = [t.result for t in decision.targets]
    starts = _times(r.started_at_ms for r in results)
    ends = _times(r.finished_at_ms for r in results)
    start = min(starts or ends, default=UNKNOWN_TIME)
    end = max(ends or starts, default=UNKNOWN_TIME)
    completed = bool(results) and all(r.completed for r in results)
    scan: dict[str, object] = {
        "analyzer": dict(TOOL),
        "scanner": dict(TOOL),
        "type": "container_scanning",
        "start_time": start,
        "end_time": max(start, end),  # same format throughout: string order is time order
        "status": "success" if completed else "failure",
    }
    messages = _messages(decision, labels)
    if messages:
        scan["messages"] = messages
    return scan


def _times(epochs: Iterable[int]) -> list[str]:
    return [text for text in map(gitlab_time, epochs) if text]


def _messages(decision: Decision, labels: list[str]) -> list[dict[str, str]]:
    messages: list[tuple[str, str]] = []
    if not decision.targets:
        messages.append(("fatal", decision.reason))
    for target, label in zip(decision.targets, labels, strict=True):
        if not target.result.completed:
            level = "warn" if target.result.timed_out else "fatal"
            messages.append((level, f"{label}: {target.reason}"))
    several = len(decision.targets) > 1
    for target, label in zip(decision.targets, labels, strict=True):
        messages += [("warn", f"{label}: {w}" if several else w) for w in target.result.warnings]
    messages += [("warn", w) for w in (*decision.run.warnings, *decision.warnings)]
    cleaned = [(level, clean(value, DETAIL_LIMIT)) for level, value in messages]
    return [{"level": level, "value": value} for level, value in cleaned if value]


def _text(name: str, value: str) -> dict[str, str]:
    return {"name": name, "type": "text", "value": value}
