"""ci-scan's own JSON report. Its shape is a public contract, versioned by `schema_version`.

Version 1 (keys in this order; indent 2; UTF-8; trailing newline). Unknown target and scan values
are `null`; a finding's text fields are always strings, "" when the console gives none, and its
scores are 0.0 when unknown.

    schema_version  1
    tool            {name: "ci-scan", version}
    target          {name, image, registry, repository, tag, digest, node_id, node_type, registry_id}
                    image is the parsed reference, registry the host (docker.io when the reference
                    names none); all image fields are null for a node that is not an image
    scan            {id, console_url, started_at, finished_at}: times ISO 8601 UTC, e.g.
                    "2024-11-28T00:00:00.000Z"
    counts          {critical, high, medium, low, unknown, masked, total}: the severities count
                    unmasked findings, masked counts masked ones, total counts all findings
    console_counts  the console's own severity counts, as it reported them
    gate            {fail_on, verdict ("passed"|"failed"), passed, reason, exit_code, failing}
                    failing is the number of findings that fail the gate
    findings        [{cve_id, severity, package, package_name, package_version, package_path,
                      fixed_in, cvss_score, epss_score, cisa_kev, description, link, urls,
                      cve_type, layer, attack_vector, exploit_poc, masked,
                      gate ("failed"|"passed"|"masked"), fingerprint, result_id}],
                    most severe first; fingerprint is stable across tags of the same repository
    warnings        [text]: what the scan reported short of an error

New keys may be added within version 1; removing or changing one raises the version.
"""

from __future__ import annotations

from ci_scan import __version__
from ci_scan.formats.base import dump_json, finding_fingerprint, iso_utc, report_order
from ci_scan.gate import GateDecision, GateStatus
from ci_scan.models import Finding, ScanResult, ScanTarget

SCHEMA_VERSION = 1


class JsonFormat:
    name = "json"
    description = "ci-scan's own JSON (schema_version 1): target, counts, gate and every finding"
    default_filename = "ci-scan.json"

    def render(self, result: ScanResult, decision: GateDecision) -> str:
        counts = {severity.label: n for severity, n in result.counts().items()}
        document = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "ci-scan", "version": __version__},
            "target": _target(result.target),
            "scan": {
                "id": result.scan_id,
                "console_url": result.console_url or None,
                "started_at": iso_utc(result.started_at_ms),
                "finished_at": iso_utc(result.finished_at_ms),
            },
            "counts": {**counts, "masked": len(result.suppressed), "total": len(result.findings)},
            "console_counts": dict(sorted(result.console_counts.items())),
            "gate": {
                "fail_on": decision.policy.threshold_label,
                "verdict": decision.verdict,
                "passed": decision.passed,
                "reason": decision.reason,
                "exit_code": int(decision.exit_code),
                "failing": len(decision.failing),
            },
            "findings": [_finding(f, result.target, decision.status(f)) for f in report_order(result.findings)],
            "warnings": list(result.warnings),
        }
        return dump_json(document)


def _target(target: ScanTarget) -> dict[str, object]:
    image = target.image
    return {
        "name": target.name,
        "image": str(image) if image else None,
        "registry": image.registry_host if image else None,
        "repository": image.repository if image else None,
        "tag": image.tag if image else None,
        "digest": target.digest,
        "node_id": target.node_id,
        "node_type": target.node_type,
        "registry_id": target.registry_id,
    }


def _finding(finding: Finding, target: ScanTarget, status: GateStatus) -> dict[str, object]:
    return {
        "cve_id": finding.cve_id,
        "severity": finding.severity.label,
        "package": finding.package,
        "package_name": finding.package_name,
        "package_version": finding.package_version,
        "package_path": finding.package_path,
        "fixed_in": finding.fixed_in,
        "cvss_score": finding.cvss_score,
        "epss_score": finding.epss_score,
        "cisa_kev": finding.cisa_kev,
        "description": finding.description,
        "link": finding.link,
        "urls": list(finding.urls),
        "cve_type": finding.cve_type,
        "layer": finding.layer,
        "attack_vector": finding.attack_vector,
        "exploit_poc": finding.exploit_poc,
        "masked": finding.suppressed,
        "gate": status,
        "fingerprint": finding_fingerprint(finding, target),
        "result_id": finding.result_id,
    }
