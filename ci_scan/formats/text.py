"""Human-readable wording of findings and gate outcomes, shared by the report formats."""

from __future__ import annotations

from ci_scan.gate import GateStatus, Policy
from ci_scan.models import Finding

MASKED_REASON = "masked in the console"


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def one_line(text: str) -> str:
    """Every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def gate_reason(status: GateStatus, finding: Finding, policy: Policy) -> str:
    """Why the finding fails the gate, or why it does not."""
    if status == "masked":
        return MASKED_REASON
    if status == "failed":
        return f"fails the gate: {finding.severity.label} is at or above --fail-on {policy.threshold_label}"
    if policy.fail_on is None:
        return "not gated: --fail-on none (report only)"
    return f"below the --fail-on threshold {policy.threshold_label}"


def headline(finding: Finding) -> str:
    """`CVE-2024-0001 (critical, score 3.9) in openssl:3.0.2 at /usr/lib/libssl.so.3`.

    The console's `cve_cvss_score` is the CVSS exploitability sub-score (9/7/5/2 when unknown), not
    the base score, so it is called a score, not CVSS.
    """
    score = f", score {finding.cvss_score:.1f}" if finding.cvss_score > 0 else ""
    text = f"{finding.cve_id} ({finding.severity.label}{score}) in {finding.package or 'an unnamed package'}"
    return f"{text} at {finding.package_path}" if finding.package_path else text


def fix_text(finding: Finding) -> str:
    return f"fixed in {finding.fixed_in}" if finding.fixed_in else "no fixed version known"


def detail_lines(finding: Finding) -> list[str]:
    """`Label: value` lines for every known attribute of the finding, in a fixed order."""
    fields = [
        ("Vulnerability", finding.cve_id),
        ("Severity", finding.severity.label),
        ("Package", finding.package),
        ("Path", finding.package_path),
        ("Fixed in", finding.fixed_in or "no fixed version known"),
        ("Console score", f"{finding.cvss_score:.1f}" if finding.cvss_score > 0 else ""),
        ("EPSS", f"{finding.epss_score:g}" if finding.epss_score > 0 else ""),
        ("CISA KEV", "yes" if finding.cisa_kev else ""),
        ("Exploit", finding.exploit_poc),
        ("Attack vector", finding.attack_vector),
        ("Type", finding.cve_type),
        ("Layer", finding.layer),
        ("Link", finding.link),
        *(("See also", url) for url in finding.urls if url != finding.link),
    ]
    return [f"{label}: {one_line(value)}" for label, value in fields if value.strip()]
