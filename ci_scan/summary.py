"""The plain-text summary printed at the end of a run (CI logs are not terminals: no colour, no width)."""

from __future__ import annotations

from ci_scan.gate import GateDecision
from ci_scan.models import Finding, ScanResult

TOP_FINDINGS = 10


def render_summary(result: ScanResult, decision: GateDecision, top: int = TOP_FINDINGS) -> str:
    masked = len(result.suppressed)
    lines = [
        f"ci-scan: {result.target.name}",
        f"  scan {result.scan_id} on {result.console_url or 'the console'}: "
        f"{len(result.findings)} finding(s), {masked} masked",
    ]
    lines += [f"  {severity.label:<9}{count:>7}" for severity, count in result.counts().items()]
    if masked:
        lines.append(f"  {'masked':<9}{masked:>7}  (masked in the console, not counted)")
    lines.append(f"Gate {decision.verdict.upper()} (--fail-on {decision.policy.threshold_label}): {decision.reason}")
    shown = decision.failing or result.active
    if shown:
        title = "Findings that fail the gate" if decision.failing else "Most severe findings"
        more = len(shown) - top
        lines.append(f"{title}{f' (first {top} of {len(shown)})' if more > 0 else ''}:")
        lines += [_finding_line(f) for f in shown[:top]]
    lines += [f"Warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _finding_line(finding: Finding) -> str:
    fixed = f"fixed in {finding.fixed_in}" if finding.fixed_in else "no fix yet"
    where = f" {finding.package_path}" if finding.package_path else ""
    return f"  {finding.severity.name:<8} {finding.cve_id:<20} {finding.package}{where}  ({fixed})"
