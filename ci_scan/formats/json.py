"""ci-scan's own JSON report. Its shape is a public contract, versioned by `schema_version`, and its JSON
Schema ships in the package (`ci_scan/schemas/report.schema.json`, `report_schema()`).

Version 2 (keys in this order; indent 2, each finding on one line; UTF-8; trailing newline). Unknown
target and scan values are `null`; a finding's text fields are always strings, "" when the console
gives none, and its scores are 0.0 when unknown.

    schema_version  2
    tool            {name: "ci-scan", version}
    console_url     the console's URL, null when unknown
    gate            {fail_on, criteria, sources, narrowing, scoped, baseline, vex, verdict, passed, reason,
                    exit_code, on_error, failing}: the whole run's;
                    criteria lists each criterion in force as its option, e.g. "--max-critical 0";
                    when every target was gated by one policy these are its; when policy-file
                    scopes gave targets different ones (scoped is true) they are the top level's,
                    and each scoped target's are under its policy;
                    sources [{criterion, source}] says where each was set: "--max-critical" (a flag),
                    "CI_SCAN_MAX_CRITICAL" (its variable), ".ci-scan.yml line 4" or "default";
                    narrowing [{option, source}] the same for --only-network, --only-live and
                    --ignore-unfixed; baseline is null or what findings were compared with; vex lists
                    the VEX statements that decided a finding [{statement, vulnerability, status,
                    justification}]
                    verdict is "passed", "failed", "incomplete" (a scan could not be completed) or
                    "timed_out"; a failed target outweighs an incomplete one, which outweighs a
                    timed-out one. exit_code is the process's (0, 1, 3 or 4; 2 when the settings
                    ended the run, 130 or 143 when SIGINT or SIGTERM stopped it); on_error is
                    --on-error: with "pass", a run the console kept from a verdict exits 0 while its
                    verdict stays "incomplete" or "timed_out"; failing is the number of findings that
                    fail the gate over every target
    error           null, or why the run has no complete verdict: each target that could not be
                    completed or timed out, with the console's message (also under its entry)
    counts          {critical, high, medium, low, unknown, masked, total} over every target: the
                    severities count unmasked findings, masked counts masked ones, total counts all
    targets         [one per target, in the run's order:
        target          {name, kind ("image"|"host"|"container"), image, registry, repository, tag,
                         digest, node_id, node_type, registry_id}
                        image is the parsed reference, registry the host (docker.io when the
                        reference names none), repository its path; digest is the digest that was
                        scanned (null when unknown), whatever the reference named. All image fields
                        but digest are null for a node that is not an image
        scan            {id, status, started_at, finished_at}: id and status null before the scan
                        started; times ISO 8601 UTC, e.g. "2024-11-28T00:00:00.000Z"
        verdict         this target's: "passed", "failed", "incomplete" or "timed_out"
        reason          why, in one sentence (for an incomplete target it holds the console's message)
        exit_code       what the run would exit with for this target alone
        error           null, or why the scan could not be completed
        timed_out       whether the scan was still running when --timeout ran out
        notes           [text]: how the scan was obtained (reused, attached to a running one...)
        counts          as the top-level counts, for this target
        console_counts  the console's own severity counts, as it reported them
        policy          null, or the policy-file scope that gates this target, with its criteria:
                        {scope, criteria, sources} (as in gate)
        rules           [{rule, limit, measured, tripped}]: each gate criterion, e.g.
                        {"rule": "fail-on", "limit": "high", "measured": 3, "tripped": true};
                        [] for a target that was not completed
        findings        [{kind, rule_id, cve_id (vulnerabilities only, = rule_id), severity,
                          component, package_name, package_version, location, fixed_in, score,
                          description, link, details, masked,
                          disposition, reason, fingerprint, result_id}],
                        most severe first. disposition is "failing" (a criterion that tripped
                        counted it), "passing", "expired" (counted, passing, its ignore entry has
                        expired), or why it does not count: "masked" (in the console), "vex" (a VEX
                        statement says not_affected or fixed), "ignored" (the ignore file), "existing"
                        (in the baseline) or "unfixed" (--ignore-unfixed); reason says why in words.
                        details is null, or for a vulnerability {cve_type, layer,
                        attack_vector, network, overall_score, epss_score, cisa_kev, exploit_poc,
                        live_connection, urls}. fingerprint is stable across tags of one repository
        warnings        [text]: what this target's scan reported short of an error
                    ]
    warnings        [text]: what the run reported short of an error

New keys may be added within version 2; removing or changing one raises the version.
Version 1 had one target: its `target`, `scan`, `counts`, `console_counts` and `findings` are now
under `targets[]`; a finding's `cve_id`, `package`, `package_path`, `cvss_score` and `gate`
("failed"|"passed"|"masked") are `rule_id`, `component`, `location`, `score` and `disposition`
("failing"|"passing"|"masked"), its vulnerability fields are under `details`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from ci_scan import __version__
from ci_scan.decision import Decision, Disposition, Policy, TargetDecision
from ci_scan.formats.base import dump_json_rows, fingerprint_key, iso_utc
from ci_scan.models import Finding, Severity, Target, VulnerabilityDetails

SCHEMA_VERSION = 2


def report_schema() -> dict[str, Any]:
    """The JSON Schema of this report, shipped in the package (`ci_scan/schemas/report.schema.json`)."""
    text = resources.files("ci_scan").joinpath("schemas/report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


class JsonFormat:
    name = "json"
    description = "ci-scan's own JSON (schema_version 2): the gate, then every target with its findings"
    default_filename = "ci-scan.json"

    def render(self, decision: Decision) -> str:
        total = sum(len(target.result.findings) for target in decision.targets)
        masked = sum(len(target.result.masked) for target in decision.targets)
        document = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "ci-scan", "version": __version__},
            "console_url": decision.run.console_url or None,
            "gate": {
                "fail_on": decision.gate_policy.threshold_label,
                "criteria": decision.gate_policy.criteria(),
                "sources": _sources(decision.gate_policy),
                "narrowing": [{"option": o, "source": w} for o, w in decision.gate_policy.narrowing_sources()],
                "scoped": decision.shared_policy is None,
                "baseline": decision.baseline.source if decision.baseline else None,
                "vex": [{"statement": s.where, "vulnerability": s.vulnerability, "status": s.status,
                         "justification": s.justification} for s in decision.vex_applied],
                "verdict": decision.verdict,
                "passed": decision.passed,
                "reason": decision.reason,
                "exit_code": int(decision.exit_code),
                "on_error": decision.on_error,
                "failing": len(decision.failing),
            },
            "error": _error(decision),
            "counts": _counts(decision.counts(), masked=masked, total=total),
            "targets": [_target_entry(target) for target in decision.targets],
            "warnings": [*decision.run.warnings, *decision.warnings],
        }
        return dump_json_rows(document, rows="findings")


def _error(decision: Decision) -> str | None:
    """Why the run has no complete verdict: every target that could not be completed or timed out."""
    problems = [f"{t.result.target.name}: {t.reason}" for t in decision.targets
                if t.verdict in ("incomplete", "timed_out")]
    if not decision.targets:
        return decision.reason
    return "; ".join(problems) or None


def _counts(counts: Mapping[Severity, int], *, masked: int, total: int) -> dict[str, int]:
    return {**{severity.label: n for severity, n in counts.items()}, "masked": masked, "total": total}


def _target_entry(decision: TargetDecision) -> dict[str, object]:
    result = decision.result
    repository = fingerprint_key(result.target)  # worked out once for all of the target's findings
    return {
        "target": _target(result.target),
        "scan": {
            "id": result.scan_id or None,
            "status": result.status or None,
            "started_at": iso_utc(result.started_at_ms),
            "finished_at": iso_utc(result.finished_at_ms),
        },
        "verdict": decision.verdict,
        "reason": decision.reason,
        "exit_code": int(decision.exit_code),
        "error": result.error or None,
        "timed_out": result.timed_out,
        "notes": list(result.notes),
        "counts": _counts(result.counts(), masked=len(result.masked), total=len(result.findings)),
        "console_counts": dict(sorted(result.console_counts.items())),
        "policy": ({"scope": decision.policy.scope, "criteria": decision.policy.criteria(),
                    "sources": _sources(decision.policy)} if decision.policy.scope else None),
        "rules": [
            {"rule": rule.rule, "limit": rule.limit, "measured": rule.measured, "tripped": rule.tripped}
            for rule in decision.rules
        ],
        "findings": [
            _finding(f, repository, decision.disposition(f), decision.reason_for(f))
            for f in result.in_report_order
        ],
        "warnings": list(result.warnings),
    }


def _target(target: Target) -> dict[str, object]:
    image = target.image
    return {
        "name": target.name,
        "kind": target.kind,
        "image": str(image) if image else None,
        "registry": image.registry_host if image else None,
        "repository": image.repository if image else None,
        "tag": image.tag if image else None,
        "digest": target.digest,
        "node_id": target.node_id,
        "node_type": target.node_type,
        "registry_id": target.registry_id,
    }


def _sources(policy: Policy) -> list[dict[str, str]]:
    return [{"criterion": criterion, "source": source} for criterion, source in policy.criteria_sources()]


def _finding(finding: Finding, repository: str, disposition: Disposition, reason: str) -> dict[str, object]:
    """One finding's row. `repository` is its target's `fingerprint_key`, as `finding_fingerprint` uses."""
    row: dict[str, object] = {
        "kind": finding.kind,
        "rule_id": finding.rule_id,
        "cve_id": finding.rule_id,
        "severity": finding.severity.label,
        "component": finding.component,
        "package_name": finding.package_name,
        "package_version": finding.package_version,
        "location": finding.location,
        "fixed_in": finding.fixed_in,
        "score": finding.score,
        "description": finding.description,
        "link": finding.link,
        "details": _details(finding.details),
        "masked": finding.masked,
        "disposition": disposition,
        "reason": reason,
        "fingerprint": finding.fingerprint(repository),
        "result_id": finding.result_id,
    }
    if finding.kind != "vulnerability":  # cve_id is for vulnerabilities only; the other keys keep their order
        del row["cve_id"]
    return row


def _details(details: VulnerabilityDetails | None) -> dict[str, object] | None:
    if details is None:
        return None
    return {
        "cve_type": details.cve_type,
        "layer": details.layer,
        "attack_vector": details.attack_vector,
        "network": details.network,
        "overall_score": details.overall_score,
        "epss_score": details.epss_score,
        "cisa_kev": details.cisa_kev,
        "exploit_poc": details.exploit_poc,
        "live_connection": details.live_connection,
        # The tuple as it is (JSON writes it as a list): a list copy per finding only gave the collector more to walk.
        "urls": details.urls,
    }
