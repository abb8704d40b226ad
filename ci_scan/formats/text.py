"""Human-readable text about findings, shared by the report formats.

Nothing here words a verdict or a disposition: that is `ci_scan.wording`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ci_scan.models import Finding, FindingKind

# C0 controls but tab and line feed, DEL, C1 controls, bidi embeddings/overrides/isolates, lone surrogates.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

UNNAMED_COMPONENT: dict[FindingKind, str] = {
    "vulnerability": "an unnamed package",
    "secret": "an unnamed file",
    "malware": "an unnamed file",
}
RULE_LABEL: dict[FindingKind, str] = {"vulnerability": "Vulnerability", "secret": "Rule", "malware": "Rule"}
COMPONENT_LABEL: dict[FindingKind, str] = {"vulnerability": "Package", "secret": "File", "malware": "File"}


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean(text: str, limit: int, *, multiline: bool = False) -> str:
    """Console text for a machine-read report: without control characters, bidi controls or lone
    surrogates, on one line (or with its line breaks, trimmed), cut to `limit`."""
    return _clean(text, limit, multiline)


@lru_cache(maxsize=1 << 16)
def _clean(text: str, limit: int, multiline: bool) -> str:
    # Kept: the same names, ids and descriptions come back in every finding and every report.
    if not (text.isascii() and text.isprintable()):  # printable ASCII (most text) has none of them
        text = _UNWANTED.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
        text = text.strip() if multiline else " ".join(text.split())
    elif "  " in text or text[:1] == " " or text[-1:] == " ":
        text = text.strip() if multiline else " ".join(text.split())
    return shorten(text, limit)


def one_line(text: str) -> str:
    """Every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def short_digest(digest: str) -> str:
    """The first 12 hex digits of `sha256:...`, as `docker images` shows an id."""
    return digest.split(":", 1)[-1][:12]


def component_text(finding: Finding) -> str:
    return finding.component or UNNAMED_COMPONENT[finding.kind]


def score_text(finding: Finding) -> str:
    """The finding's score named for what it is, or "" when it has none.

    For a vulnerability the console's `cve_cvss_score` and `cve_overall_score` are both the CVSS
    *exploitability sub-score* (at most 3.9 in CVSS 3), never the base score; when CVSS data is missing
    `cve_cvss_score` falls back to 9/7/5/2 by severity, which is no score at all (API_NOTES §7.2).
    """
    if finding.details is not None:
        overall = finding.details.overall_score
        return f"exploitability {overall:.1f}" if overall > 0 else ""
    return f"score {finding.score:.1f}" if finding.score > 0 else ""


def headline(finding: Finding) -> str:
    """`CVE-2024-0001 (critical, exploitability 3.9) in openssl:3.0.2 at /usr/lib/libssl.so.3`."""
    score = score_text(finding)
    text = f"{finding.rule_id} ({finding.severity.label}{', ' + score if score else ''}) in {component_text(finding)}"
    return f"{text} at {finding.place}" if finding.place else text


REMEDY: dict[FindingKind, str] = {
    "secret": "rotate the secret and remove it from the image",
    "malware": "remove the file from the image",
}
"""What to do about a finding that no package upgrade fixes."""


def fix_text(finding: Finding) -> str:
    if finding.kind in REMEDY:
        return REMEDY[finding.kind]
    return f"fixed in {finding.fixed_in}" if finding.fixed_in else "no fixed version known"


def detail_lines(finding: Finding) -> list[str]:
    """`Label: value` lines for every known attribute of the finding, in a fixed order."""
    details = finding.details
    fields = [
        (RULE_LABEL[finding.kind], finding.rule_id),
        ("Severity", finding.severity.label),
        (COMPONENT_LABEL[finding.kind], finding.component),
        ("Path", finding.location),
    ]
    if finding.kind == "vulnerability" or finding.fixed_in:
        fields.append(("Fixed in", finding.fixed_in or "no fixed version known"))
    console_score = f"{finding.score:.1f}" if finding.score > 0 else ""
    if details is None:
        fields.append(("Console score", console_score))
    else:
        # cve_cvss_score: the exploitability sub-score too, or 9/7/5/2 by severity when there is no CVSS data
        fields.append(("Console score (cve_cvss_score)", console_score))
        fields += [
            ("Exploitability score", f"{details.overall_score:.1f} (the CVSS exploitability sub-score, not the base "
             "score)" if details.overall_score > 0 else "none: the console has no CVSS data for it"),
            ("EPSS", f"{details.epss_score:g}" if details.epss_score > 0 else ""),
            ("CISA KEV", "yes" if details.cisa_kev else ""),
            ("Exploit", details.exploit_poc),
            ("Attack vector", details.attack_vector),
            ("Exposure", details.network),
            ("Live connection", "yes" if details.live_connection else ""),
            ("Type", details.cve_type),
            ("Layer", details.layer),
        ]
    fields.append(("Link", finding.link))
    if details is not None:
        fields += [("See also", url) for url in details.urls if url != finding.link]
    return [f"{label}: {one_line(value)}" for label, value in fields if value.strip()]
