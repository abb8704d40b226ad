"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer), built with sarif-om.

Mapping:
- One run per image repository (`Target.repository`, without tag or digest), in the order the run
  first names them; `automationDetails.id` is `ci-scan/<registry-host>/<repository>/`, so each
  repository is its own GitHub category and scans of new tags replace the old results. Every tag and
  architecture of a repository shares its run; each result names its image (the target's name and
  the digest that was scanned) in its first logical location and in `properties.image`/`digest`.
- GitHub refuses files of more than 20 runs. Beyond 20 repositories, the 19 most severe (by their most
  severe gate-failing finding, then their most severe finding, then name) keep their own runs and
  the rest share one last run, `automationDetails.id` `ci-scan/_merged/`, whose results name their
  image as every result does. The merge is recorded as a tool notification and in
  `run.properties.merged` (`repositories`, `reason`).
- A target whose scan could not be completed or timed out reports no results. Its run's invocation
  has `executionSuccessful: false` and an `error` notification with the target's reason. A repository
  with only such targets gets no run of its own (an empty run in its category would close its open
  alerts on GitHub): they share the last run, `automationDetails.id` `ci-scan/_incomplete/`, which has
  no results.
- One rule per finding id (CVE/GHSA, or a secret or malware rule) per run, one result per finding.
  `security-severity` is the score when it agrees with the console's severity band on GitHub's scale,
  else 9.5 / 8.0 / 5.5 / 2.0 for critical / high / medium / low; unknown severity without a score
  gets none.
- `level`: `error` when the finding fails the gate, otherwise `warning` (medium and above) or `note`.
  `properties.disposition` is the finding's disposition (`failing`, `passing`, `masked`, `vex`,
  `ignored`, `existing`, `unfixed`, `expired`); masked, VEX-suppressed and ignored findings also carry
  an accepted external suppression with the reason. With a baseline, `baselineState` is `unchanged`
  for a finding the baseline had and `new` for the others. A result's properties also hold `severity`, `image`, `digest`
  (when known), `repository` (in the merged run only), `component`, `location`, `fixedIn`, `score`,
  `epssScore`, `cisaKev`, `layer` and `resultId`, each left out when empty.
- Location: with the image's Dockerfile (`--dockerfile`, or `./Dockerfile` when one image is scanned),
  each result points at it, relative to the checkout: a package of the operating system (the
  console's `cve_type` `base`, which comes with the base image) at the lines of the `FROM` its base
  came from (`dockerfile.base`), any other at line 1; `run.properties.dockerfile` names the file.
  Without one, an image has no source file, so each result points at the synthetic, URI-safe path
  `container/<registry-host>/<repository>[/<package path>]`, line 1 (no scheme, tag or digest;
  anything outside `A-Za-z0-9-._~` percent-encoded). The image and package are logical locations.
- `partialFingerprints.primaryLocationLineHash` is `Finding.fingerprint` of the repository without
  tag or digest, so an alert follows a finding from tag to tag (and one finding present in two tags
  of a run is one alert).
- `invocations[0]` is the ci-scan process: its exit code and verdict, the run's scans' time span.
- `run.properties`: `repository` (or `merged`), `consoleUrl`, `gate` (the whole run's: `failOn`,
  `criteria` (each with where it was set), `verdict`, `reason`, `failing`), `results` (`total`,
  `reported`, `truncated`) and `targets`, one per image of the run: `image`, `digest`, `nodeId`,
  `nodeType`, `scanId`, `verdict`, `reason`, `failing`, and for a target a policy-file scope gated,
  `scope` and its `criteria`.
- GitHub refuses runs over 25,000 results and uploads over 10 MB gzipped: past them the rules' help is
  shortened, then results dropped; the gate-failing findings are kept first, then
  the most severe; the cut is recorded in `run.properties.results` and as a tool notification.
- The JSON is compact: GitHub limits uploads to 10 MB gzipped, and machines are its readers.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import quote

import sarif_om as om

from ci_scan import __version__
from ci_scan.decision import Decision, Disposition, Policy, TargetDecision
from ci_scan.dockerfile import Dockerfile
from ci_scan.formats.attrs_json import to_json_data
from ci_scan.formats.base import (
    dump_json,
    finding_fingerprint,
    iso_utc,
    report_key,
    target_labels,
    without_surrogates,
)
from ci_scan.formats.sarif_rules import HELP_DESCRIPTION_LIMIT, rule_id, sarif_rule
from ci_scan.formats.text import fix_text, headline
from ci_scan.models import Finding, Severity, Target

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS_PER_RUN = 25_000
MAX_RUNS = 20
"""GitHub's limit of runs per SARIF file."""
DEFAULT_CATEGORY = "ci-scan"
UPLOAD_LIMIT = 10_000_000
"""GitHub refuses SARIF uploads over 10 MB gzipped."""
MERGED_CATEGORY = "_merged"
INCOMPLETE_CATEGORY = "_incomplete"
"""The shared runs' categories start with `_`, which no image repository or host name can: never a target's."""
MASKED_SUPPRESSION = {
    "kind": "external",
    "status": "accepted",
    "justification": "masked in the Deepfence console",
}
"""A plain dict: sarif-om 1.0.4's Suppression has the pre-release `state`, SARIF 2.1.0 says `status`."""
_URI_SAFE = "/-._~"
_AFTER_RULES = ("semanticVersion", "version")
"""The driver's properties that sarif-om orders after its rules."""
_FIRST_LINE = {"endColumn": 1, "endLine": 1, "startColumn": 1, "startLine": 1}
"""There is no source line: every result points at the first. Shared, never changed."""
BASE_PACKAGES = "base"
"""The console's `cve_type` of the operating system's packages, which come with the base image."""


@dataclass(frozen=True)
class _Image:
    """One target of a run, with the label that tells it from the run's other targets."""

    decision: TargetDecision
    label: str
    location: dict[str, str]
    """Its logical location, shared by all its results: read-only once built."""

    @property
    def target(self) -> Target:
        return self.decision.result.target


@dataclass(frozen=True)
class _Group:
    """What one run covers: one repository, or the repositories merged past GitHub's run limit."""

    category: str
    images: list[_Image]
    merged: tuple[str, ...] = ()
    """The repositories of a merged run."""
    merge_reason: str = ""


@dataclass(frozen=True)
class _Cut:
    """How much of the log to keep: characters of each rule's help description, results per run."""

    help_limit: int
    max_results: int
    note: str = ""


def _uploadable(text: str, limit: int) -> bool:
    """Whether `text` gzipped stays within `limit`. The fastest level compresses least, so when it fits,
    the upload's own compression fits too; only when it does not is the usual level tried."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return True
    return any(len(gzip.compress(data, compresslevel=level)) <= limit for level in (1, 6))


def _cut_note(cut: _Cut, limit: int) -> str:
    help_text = f"rules' help cut to {cut.help_limit} characters" if cut.help_limit else "rules' help left out"
    return (f"to stay under GitHub's upload limit ({limit / 1e6:g} MB gzipped): {help_text}, at most "
            f"{cut.max_results} results per run (gate-failing ones kept first)")


class SarifFormat:
    name = "sarif"
    description = "SARIF 2.1.0 for GitHub code scanning; one run per image repository, gate shown per result"
    default_filename = "ci-scan.sarif"

    def __init__(
        self, max_results: int = MAX_RESULTS_PER_RUN, max_runs: int = MAX_RUNS, sarif_category: str | None = None,
        upload_limit: int = UPLOAD_LIMIT, dockerfile: Dockerfile | None = None,
    ) -> None:
        if max_runs < 1:
            raise ValueError("max_runs must be at least 1")
        self.max_results = max_results
        self.max_runs = max_runs
        self.upload_limit = upload_limit
        self.category = (sarif_category or DEFAULT_CATEGORY).strip("/") or DEFAULT_CATEGORY
        """The prefix of every run's `automationDetails.id`: `<category>/<repository>/`."""
        self.dockerfile = dockerfile
        """The scanned image's Dockerfile, which every result then points at."""

    def render(self, decision: Decision) -> str:
        """The log; past GitHub's upload limit (10 MB gzipped) the rules' help is shortened, then the
        least severe results dropped (gate-failing ones last), each step said in the runs' notifications."""
        self.shortened = ""
        text = self._render(decision, _Cut(HELP_DESCRIPTION_LIMIT, self.max_results))
        for cut in (_Cut(500, self.max_results), _Cut(0, self.max_results), _Cut(0, self.max_results // 2),
                    _Cut(0, self.max_results // 5), _Cut(0, self.max_results // 25)):
            if _uploadable(text, self.upload_limit):
                break
            text = self._render(decision, replace(cut, note=_cut_note(cut, self.upload_limit)))
        return text

    shortened: str = ""
    """After `render`: what the log left out to fit GitHub's limits, in words; "" when nothing."""

    def _render(self, decision: Decision, cut: _Cut) -> str:
        groups = self._groups(decision)
        built = [self._run(group, decision, cut) for group in groups]
        self.shortened = _shortened(groups, built, cut)
        log = to_json_data(om.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=[run for run, _, _ in built]))
        # Rules and results join the converted log as the plain dicts they were built as: as sarif-om
        # objects, building and converting them took half of a big log's time.
        for run, (_, rules, results) in zip(log["runs"], built, strict=True):
            driver = run["tool"]["driver"]
            driver["rules"] = rules
            driver.update((key, driver.pop(key)) for key in _AFTER_RULES if key in driver)
            run["results"] = results  # the last property sarif-om writes of a run
        return dump_json({"$schema": log.pop("$schema"), "version": log.pop("version"), **log}, indent=None)

    def _groups(self, decision: Decision) -> list[_Group]:
        labels = target_labels([target.result.target for target in decision.targets])
        by_repository: dict[str, list[_Image]] = {}
        for target, label in zip(decision.targets, labels, strict=True):
            image = _Image(target, label, _image_location(target.result.target))
            by_repository.setdefault(target.result.target.repository, []).append(image)
        # A repository none of whose scans completed must not upload an empty run under its own
        # category: GitHub would close its open alerts. Such targets share the `incomplete` run.
        unfinished = {r: images for r, images in by_repository.items()
                      if not any(i.decision.result.completed for i in images)}
        finished = {r: images for r, images in by_repository.items() if r not in unfinished}
        leftover = [i for images in unfinished.values() for i in images]
        # A run that ended before it had a target still says why, in the incomplete run.
        tail = [_Group(INCOMPLETE_CATEGORY, leftover)] if leftover or not decision.targets else []
        limit = self.max_runs - len(tail)
        if len(finished) <= limit:
            return [_Group(repository, images) for repository, images in finished.items()] + tail
        ranked = sorted(finished, key=lambda repository: _severity_rank(repository, finished[repository]))
        own = set(ranked[: limit - 1])
        groups = [_Group(repository, images) for repository, images in finished.items() if repository in own]
        rest = tuple(repository for repository in finished if repository not in own)
        reason = (
            f"GitHub accepts at most {self.max_runs} runs per file; the {len(rest)} least severe image "
            f"repositories share this run, each result naming its image: {', '.join(rest)}"
        )
        groups.append(_Group(MERGED_CATEGORY, [i for r in rest for i in finished[r]], rest, reason))
        return groups + tail

    def _run(self, group: _Group, decision: Decision, cut: _Cut) -> tuple[om.Run, list[dict[str, object]],
                                                                         list[dict[str, object]]]:
        """The run without its rules and results, its rules, and its results."""
        entries = [
            (order, image, finding)
            for order, image in enumerate(group.images)
            if image.decision.result.completed
            for finding in image.decision.result.findings
        ]
        # Gate-failing findings first, then most severe, so a cut at max_results never drops them.
        ranked = sorted(
            entries,
            key=lambda e: (e[1].decision.disposition(e[2]) != "failing", report_key(e[2]), e[0]),
        )
        kept = [(image, finding) for _, image, finding in ranked[: cut.max_results]]
        by_rule: dict[str, list[tuple[str, Finding]]] = {}
        for image, finding in kept:
            by_rule.setdefault(rule_id(finding), []).append((image.target.name, finding))
        rule_index = {rule: index for index, rule in enumerate(by_rule)}
        scope = _scope(group)
        known_starts = [i.decision.result.started_at_ms for i in group.images if i.decision.result.started_at_ms > 0]
        known_ends = [i.decision.result.finished_at_ms for i in group.images if i.decision.result.finished_at_ms > 0]
        rules = [sarif_rule(rule, findings, scope, cut.help_limit) for rule, findings in by_rule.items()]
        anchor = _Anchor.of(self.dockerfile)
        results = [_result(finding, rule_index[rule_id(finding)], image, group, anchor) for image, finding in kept]
        run = om.Run(
            tool=om.Tool(driver=om.ToolComponent(name="ci-scan", version=__version__, semantic_version=__version__)),
            automation_details=om.RunAutomationDetails(id=f"{self.category}/{group.category}/"),
            invocations=[
                om.Invocation(
                    execution_successful=bool(group.images)
                    and all(i.decision.result.completed for i in group.images),
                    start_time_utc=iso_utc(min(known_starts, default=0)),
                    end_time_utc=iso_utc(max(known_ends, default=0)),
                    exit_code=int(decision.exit_code),
                    exit_code_description=decision.exit_description,
                    tool_execution_notifications=self._notifications(group, decision, len(entries), len(kept), cut)
                    or None,
                )
            ],
            properties=_run_properties(group, decision, total=len(entries), reported=len(kept),
                                       dockerfile=anchor.uri if anchor else None),
        )
        return run, rules, results

    def _notifications(self, group: _Group, decision: Decision, total: int, reported: int,
                       cut: _Cut) -> list[om.Notification]:
        several = len(group.images) > 1
        notes = [
            om.Notification(message=om.Message(text=f"{image.label}: {image.decision.reason}"), level="error")
            for image in group.images
            if not image.decision.result.completed
        ]
        if not group.images:
            notes.append(om.Notification(message=om.Message(text=decision.reason), level="error"))
        if group.merged:
            notes.append(om.Notification(message=om.Message(text=group.merge_reason), level="warning"))
        warnings = [
            f"{image.label}: {warning}" if several else warning
            for image in group.images
            for warning in image.decision.result.warnings
        ]
        warnings += (*decision.run.warnings, *decision.warnings)
        if reported < total:
            warnings.append(
                f"{total} findings exceed the limit of {cut.max_results} results per run; "
                f"reported the {reported} that fail the gate or are most severe"
            )
        if cut.note:
            warnings.append(cut.note)
        notes += [om.Notification(message=om.Message(text=text), level="warning") for text in warnings]
        return notes


def _shortened(groups: list[_Group], built: list[tuple[om.Run, list[dict[str, object]], list[dict[str, object]]]],
               cut: _Cut) -> str:
    """What the log leaves out, for the terminal summary: results dropped (per run) and the cut's note."""
    dropped = []
    for group, (run, _, results) in zip(groups, built, strict=True):
        total = run.properties["results"]["total"]
        if len(results) < total:
            dropped.append(f"{total - len(results):,} of {total:,} results of {_scope(group)}")
    parts = [f"left out {', '.join(dropped)} (the least severe; gate-failing ones are kept first)"] if dropped else []
    return "; ".join([*parts, cut.note] if cut.note else parts)


def _severity_rank(repository: str, images: list[_Image]) -> tuple[tuple[int, int, float], tuple[int, int, float], str]:
    """Most severe first: by the worst gate-failing finding, then the worst finding, then name."""

    def worst(findings: list[Finding]) -> tuple[int, int, float]:
        best = min(findings, key=lambda f: f.sort_key, default=None)
        return (1, 0, 0.0) if best is None else (0, -int(best.severity), -best.score)

    completed = [i.decision for i in images if i.decision.result.completed]
    failing = [f for target in completed for f in target.failing]
    active = [f for target in completed for f in target.result.active]
    return (worst(failing), worst(active), repository)


def _scope(group: _Group) -> str:
    if group.merged:
        return f"{len(group.merged)} repositories"
    if len(group.images) == 1:
        return group.images[0].target.name
    return group.category


def _result(finding: Finding, index: int, image: _Image, group: _Group, anchor: _Anchor | None) -> dict[str, object]:
    """A result as SARIF JSON, properties in sarif-om's order (mandatory first, then by name)."""
    disposition = image.decision.disposition(finding)
    reason = image.decision.reason_for(finding)
    where = f"; image {image.label}" if len(group.images) > 1 else ""
    result: dict[str, object] = {
        "message": {"text": f"{headline(finding)}{where}; {fix_text(finding)}; {reason}."},
        "baselineState": _baseline_state(disposition, image.decision),
        "level": _level(disposition, finding.severity),
        "locations": [_location(finding, image, anchor)],
        "partialFingerprints": {"primaryLocationLineHash": finding_fingerprint(finding, image.target)},
        "properties": _result_properties(finding, disposition, image.target, merged=bool(group.merged)),
        "ruleId": rule_id(finding),
        "ruleIndex": index,
        "suppressions": _suppressions(disposition, image.decision, finding),
    }
    return {key: value for key, value in result.items() if value is not None}


def _suppressions(disposition: Disposition, target: TargetDecision, finding: Finding) -> list[dict[str, str]] | None:
    """Masked in the console, not affected per VEX, or accepted by the ignore file (with the reason): an
    accepted suppression. A finding existing in the baseline is not suppressed: its baselineState says so."""
    if disposition == "masked":
        return [MASKED_SUPPRESSION]
    if disposition in ("vex", "ignored"):
        return [{"kind": "external", "status": "accepted", "justification": target.reason_for(finding)}]
    return None


def _baseline_state(disposition: Disposition, target: TargetDecision) -> str | None:
    """`unchanged` for a finding the baseline had, `new` for the others; none without a baseline."""
    if target.baseline is None:
        return None
    return "unchanged" if disposition == "existing" else "new"


def _level(disposition: Disposition, severity: Severity) -> str:
    if disposition == "failing":
        return "error"
    return "warning" if severity >= Severity.MEDIUM else "note"


def artifact_uri(target: Target, location: str = "") -> str:
    """`container/registry.example.com/team/app/usr/lib/libssl.so.3`: relative, no scheme, no `:`.

    The console joins several file locations with `:`; the first one stands for the finding.
    """
    first = re.split(r":(?=/)", location, maxsplit=1)[0]
    path = _uri_path(first.replace("\\", "/").split("/")) if first else ""
    return f"{_target_uri(target)}/{path}" if path else _target_uri(target)


@lru_cache(maxsize=256)
def _target_uri(target: Target) -> str:
    if target.image is not None:
        return _uri_path(["container", target.image.registry_host, *target.image.repository.split("/")])
    return _uri_path([target.node_type or "node", *target.name.split("/")])


def _uri_path(segments: list[str]) -> str:
    """Percent-encoded; empty, "." and ".." segments dropped so that the path cannot climb out."""
    kept = "/".join(part for part in segments if part not in ("", ".", ".."))
    return quote(without_surrogates(kept), safe=_URI_SAFE)


@dataclass(frozen=True)
class _Anchor:
    """Where results point in the image's Dockerfile: its FROM line for base-image packages, else line 1."""

    uri: str
    base: dict[str, int]
    other: dict[str, int]

    @classmethod
    def of(cls, dockerfile: Dockerfile | None) -> _Anchor | None:
        if dockerfile is None:
            return None
        base = dockerfile.base
        region = _FIRST_LINE if base is None else {
            "endColumn": base.end_column, "endLine": base.end_line, "startColumn": 1, "startLine": base.start_line,
        }
        return cls(dockerfile.uri, region, _FIRST_LINE)

    def region(self, finding: Finding) -> dict[str, int]:
        from_base = finding.details is not None and finding.details.cve_type.lower() == BASE_PACKAGES
        return self.base if from_base else self.other


def _location(finding: Finding, image: _Image, anchor: _Anchor | None = None) -> dict[str, object]:
    logical = [image.location]
    if finding.component:
        logical.append({
            "fullyQualifiedName": f"{image.target.name}/{finding.component}",
            "kind": "module",
            "name": finding.component,
        })
    return {
        "logicalLocations": logical,
        "physicalLocation": {
            "artifactLocation": {"uri": anchor.uri if anchor else artifact_uri(image.target, finding.location)},
            "region": anchor.region(finding) if anchor else _FIRST_LINE,
        },
    }


def _image_location(target: Target) -> dict[str, str]:
    """The image by name; its fully qualified name pins the digest that was scanned, when known."""
    digest = target.digest
    qualified = f"{target.name}@{digest}" if digest and not target.name.endswith(digest) else target.name
    return {"fullyQualifiedName": qualified, "kind": "resource", "name": target.name}


def _result_properties(
    finding: Finding, disposition: Disposition, target: Target, *, merged: bool
) -> dict[str, object]:
    details = finding.details
    values: dict[str, object] = {
        "disposition": disposition,
        "severity": finding.severity.label,
        "image": target.name,
        "digest": target.digest,
        "repository": target.repository if merged else None,
        "component": finding.component,
        "location": finding.location,
        "fixedIn": finding.fixed_in,
        "score": finding.score,
        "epssScore": details.epss_score if details else 0.0,
        "cisaKev": details.cisa_kev if details else False,
        "layer": details.layer if details else "",
        "resultId": finding.result_id,
    }
    return {key: value for key, value in values.items() if value or key == "disposition"}


def _run_properties(group: _Group, decision: Decision, *, total: int, reported: int,
                    dockerfile: str | None = None) -> dict[str, object]:
    properties: dict[str, object] = {}
    if group.merged:
        properties["merged"] = {"repositories": list(group.merged), "reason": group.merge_reason}
    else:
        properties["repository"] = group.category
    if decision.run.console_url:
        properties["consoleUrl"] = decision.run.console_url
    if dockerfile:
        properties["dockerfile"] = dockerfile
    properties["gate"] = {
        "failOn": decision.gate_policy.threshold_label,
        "criteria": _criteria(decision.gate_policy),
        "verdict": decision.verdict,
        "reason": decision.reason,
        "failing": len(decision.failing),
    }
    properties["results"] = {"total": total, "reported": reported, "truncated": reported < total}
    properties["targets"] = [_target_properties(image) for image in group.images]
    return properties


def _target_properties(image: _Image) -> dict[str, object]:
    target, result = image.target, image.decision.result
    values: dict[str, object] = {
        "image": target.name,
        "digest": target.digest,
        "nodeId": target.node_id,
        "nodeType": target.node_type,
        "scanId": result.scan_id,
        "verdict": image.decision.verdict,
        "reason": image.decision.reason,
        "failing": len(image.decision.failing),
        "scope": image.decision.policy.scope,
        "criteria": _criteria(image.decision.policy) if image.decision.policy.scope else None,
    }
    return {key: value for key, value in values.items() if value or key == "failing"}


def _criteria(policy: Policy) -> list[dict[str, str]]:
    return [{"criterion": c, "source": w} for c, w in policy.criteria_sources()]
