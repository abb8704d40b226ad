"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer), built with sarif-om.

Mapping:
- One run per scanned image; `automationDetails.id` is `ci-scan/<registry-host>/<repository>/`, so
  each image is its own GitHub category and scans of new tags replace the old results.
- One rule per vulnerability id (CVE/GHSA), one result per finding. `security-severity` is the CVSS
  score when it agrees with the console's severity band on GitHub's scale, else 9.5 / 8.0 / 5.5 /
  2.0 for critical / high / medium / low; unknown severity without a score gets none.
- `level`: `error` when the finding fails the gate, otherwise `warning` (medium and above) or `note`.
  `properties.gate` says `failed`, `passed` or `masked`; masked findings also carry an accepted
  external suppression.
- Location: the image has no source file, so each result points at the synthetic, URI-safe path
  `container/<registry-host>/<repository>[/<package path>]`, line 1 (no scheme, tag or digest;
  anything outside `A-Za-z0-9-._~` percent-encoded). The image and package are logical locations.
- `partialFingerprints.primaryLocationLineHash` is `Finding.fingerprint` of the repository without
  tag or digest, so an alert follows a finding from tag to tag.
- GitHub refuses runs over 25,000 results: beyond that the gate-failing findings are kept first, then
  the most severe; the cut is recorded in `run.properties.results` and as a tool notification.
- The JSON is compact: GitHub limits uploads to 10 MB gzipped, and machines are its readers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

import sarif_om as om

from ci_scan import __version__
from ci_scan.formats.attrs_json import to_json_data
from ci_scan.formats.base import (
    dump_json,
    finding_fingerprint,
    iso_utc,
    report_order,
    repository_name,
    without_surrogates,
)
from ci_scan.formats.sarif_rules import rule_id, sarif_rule
from ci_scan.formats.text import fix_text, gate_reason, headline
from ci_scan.gate import GateDecision, GateStatus
from ci_scan.models import Finding, ScanResult, ScanTarget, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS_PER_RUN = 25_000
MASKED_SUPPRESSION = {
    "kind": "external",
    "status": "accepted",
    "justification": "masked in the Deepfence console",
}
"""A plain dict: sarif-om 1.0.4's Suppression has the pre-release `state`, SARIF 2.1.0 says `status`."""
_URI_SAFE = "/-._~"
_FIRST_LINE = om.Region(start_line=1, start_column=1, end_line=1, end_column=1)
"""There is no source line: every result points at the first. Shared, never changed."""


class SarifFormat:
    name = "sarif"
    description = "SARIF 2.1.0 for GitHub code scanning; one run per image, gate shown per result"
    default_filename = "ci-scan.sarif"

    def __init__(self, max_results: int = MAX_RESULTS_PER_RUN) -> None:
        self.max_results = max_results

    def render(self, result: ScanResult, decision: GateDecision) -> str:
        run = self._run(result, decision)
        log = to_json_data(om.SarifLog(version="2.1.0", schema_uri=SCHEMA_URI, runs=[run]))
        return dump_json({"$schema": log.pop("$schema"), "version": log.pop("version"), **log}, indent=None)

    def _run(self, result: ScanResult, decision: GateDecision) -> om.Run:
        # Gate-failing findings first (the sort is stable), so a cut at max_results never drops them.
        ranked = sorted(report_order(result.findings), key=lambda f: decision.status(f) != "failed")
        kept = ranked[: self.max_results]
        by_rule: dict[str, list[Finding]] = {}
        for finding in kept:
            by_rule.setdefault(rule_id(finding), []).append(finding)
        rule_index = {rule: index for index, rule in enumerate(by_rule)}
        notes = list(result.warnings)
        if len(kept) < len(ranked):
            notes.append(
                f"{len(ranked)} findings exceed GitHub's limit of {self.max_results} results per run; "
                f"reported the {len(kept)} that fail the gate or are most severe"
            )
        return om.Run(
            tool=om.Tool(
                driver=om.ToolComponent(
                    name="ci-scan",
                    version=__version__,
                    semantic_version=__version__,
                    rules=[sarif_rule(rule, findings, result.target) for rule, findings in by_rule.items()],
                )
            ),
            automation_details=om.RunAutomationDetails(id=f"ci-scan/{repository_name(result.target)}/"),
            invocations=[
                om.Invocation(
                    execution_successful=True,
                    start_time_utc=iso_utc(result.started_at_ms),
                    end_time_utc=iso_utc(result.finished_at_ms),
                    exit_code=int(decision.exit_code),
                    exit_code_description=f"gate {decision.verdict}",
                    tool_execution_notifications=[
                        om.Notification(message=om.Message(text=note), level="warning") for note in notes
                    ]
                    or None,
                )
            ],
            results=[_result(f, rule_index[rule_id(f)], decision.status(f), result, decision) for f in kept],
            properties=_run_properties(result, decision, reported=len(kept)),
        )


def _result(finding: Finding, index: int, status: GateStatus, result: ScanResult, decision: GateDecision) -> om.Result:
    reason = gate_reason(status, finding, decision.policy)
    return om.Result(
        rule_id=rule_id(finding),
        rule_index=index,
        level=_level(status, finding.severity),
        message=om.Message(text=f"{headline(finding)}; {fix_text(finding)}; {reason}."),
        locations=[_location(finding, result.target)],
        partial_fingerprints={"primaryLocationLineHash": finding_fingerprint(finding, result.target)},
        suppressions=[MASKED_SUPPRESSION] if status == "masked" else None,
        properties=_result_properties(finding, status),
    )


def _level(status: GateStatus, severity: Severity) -> str:
    if status == "failed":
        return "error"
    return "warning" if severity >= Severity.MEDIUM else "note"


def artifact_uri(target: ScanTarget, package_path: str = "") -> str:
    """`container/registry.example.com/team/app/usr/lib/libssl.so.3`: relative, no scheme, no `:`.

    The console joins several file locations with `:`; the first one stands for the finding.
    """
    first = re.split(r":(?=/)", package_path, maxsplit=1)[0]
    path = _uri_path(first.replace("\\", "/").split("/")) if first else ""
    return f"{_target_uri(target)}/{path}" if path else _target_uri(target)


@lru_cache(maxsize=8)
def _target_uri(target: ScanTarget) -> str:
    if target.image is not None:
        return _uri_path(["container", target.image.registry_host, *target.image.repository.split("/")])
    return _uri_path([target.node_type or "node", *target.name.split("/")])


def _uri_path(segments: list[str]) -> str:
    """Percent-encoded; empty, "." and ".." segments dropped so that the path cannot climb out."""
    kept = "/".join(part for part in segments if part not in ("", ".", ".."))
    return quote(without_surrogates(kept), safe=_URI_SAFE)


def _location(finding: Finding, target: ScanTarget) -> om.Location:
    logical = [_image_location(target)]
    if finding.package:
        logical.append(
            om.LogicalLocation(
                name=finding.package, fully_qualified_name=f"{target.name}/{finding.package}", kind="module"
            )
        )
    return om.Location(
        physical_location=om.PhysicalLocation(
            artifact_location=om.ArtifactLocation(uri=artifact_uri(target, finding.package_path)),
            region=_FIRST_LINE,
        ),
        logical_locations=logical,
    )


@lru_cache(maxsize=8)
def _image_location(target: ScanTarget) -> om.LogicalLocation:
    """Shared by every result of the run: read-only once built."""
    return om.LogicalLocation(name=target.name, fully_qualified_name=target.name, kind="resource")


def _result_properties(finding: Finding, status: GateStatus) -> dict[str, object]:
    values: dict[str, object] = {
        "gate": status,
        "severity": finding.severity.label,
        "package": finding.package,
        "packagePath": finding.package_path,
        "fixedIn": finding.fixed_in,
        "cvssScore": finding.cvss_score,
        "epssScore": finding.epss_score,
        "cisaKev": finding.cisa_kev,
        "layer": finding.layer,
        "resultId": finding.result_id,
    }
    return {key: value for key, value in values.items() if value or key == "gate"}


def _run_properties(result: ScanResult, decision: GateDecision, *, reported: int) -> dict[str, object]:
    target = result.target
    properties: dict[str, object] = {
        "image": target.name,
        "repository": repository_name(target),
        "digest": target.digest,
        "nodeId": target.node_id,
        "nodeType": target.node_type,
        "scanId": result.scan_id,
        "consoleUrl": result.console_url,
    }
    properties = {key: value for key, value in properties.items() if value}
    properties["gate"] = {
        "failOn": decision.policy.threshold_label,
        "verdict": decision.verdict,
        "reason": decision.reason,
        "failing": len(decision.failing),
    }
    properties["results"] = {
        "total": len(result.findings),
        "reported": reported,
        "truncated": reported < len(result.findings),
    }
    return properties
