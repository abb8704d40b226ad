"""SARIF rules: one per vulnerability id (or secret/malware rule), with the severity and help text GitHub shows.

Built as plain SARIF JSON, in the property order sarif-om writes (mandatory first, then by name): a big
log has one rule per finding, and as sarif-om objects they cost more to build and convert than to write.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ci_scan.formats.text import component_text, fix_text, one_line, shorten
from ci_scan.models import Finding, Severity

FALLBACK_SECURITY_SEVERITY = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
}
GITHUB_BANDS = {
    Severity.CRITICAL: (9.1, 10.0),
    Severity.HIGH: (7.0, 9.0),
    Severity.MEDIUM: (4.0, 6.9),
    Severity.LOW: (0.1, 3.9),
    Severity.UNKNOWN: (0.1, 10.0),
}
"""The scores GitHub files under each severity (one decimal), UNKNOWN accepting any valid score."""
DESCRIPTION_LIMIT = 1024
"""GitHub's limit for shortDescription and fullDescription."""
HELP_DESCRIPTION_LIMIT = 4000
TITLE_LIMIT = 250
PACKAGES_LISTED = 50
MAX_TAGS = 20
_HTTP_URL = re.compile(r"https?://[^\s<>\"]+\Z")
_MARKDOWN_ESCAPES = str.maketrans({char: "\\" + char for char in "\\`*_|<>[]"})


def rule_id(finding: Finding) -> str:
    return finding.rule_id.strip() or f"unidentified-{finding.kind}"


def security_severity(severity: Severity, cvss_score: float) -> str | None:
    """The CVSS score if GitHub would file it under `severity`, else the fallback; None if neither."""
    score = round(cvss_score, 1)
    low, high = GITHUB_BANDS[severity]
    if low <= score <= high:
        return f"{score:.1f}"
    fallback = FALLBACK_SECURITY_SEVERITY.get(severity)
    return f"{fallback:.1f}" if fallback else None


class _RuleFacts(NamedTuple):  # one per rule, often one per finding: a tuple is made fastest
    rule: str
    severity: Severity
    description: str
    link: str | None
    scope: str
    """Where the findings are: an image, a repository, several repositories."""
    affected: list[tuple[str, Finding]]
    """Distinct (image, package, path) findings, the first PACKAGES_LISTED of them."""
    more: int
    several_images: bool


def sarif_rule(rule: str, findings: list[tuple[str, Finding]], scope: str,
               help_limit: int = HELP_DESCRIPTION_LIMIT) -> dict[str, object]:
    """The rule (a reportingDescriptor, as SARIF JSON) for `findings` (each with the name of its
    image), which all share the id `rule`."""
    unique = list({(image, *f.key): (image, f) for image, f in findings}.values())
    plain = [f for _, f in findings]
    described = next((one_line(f.description) for f in plain if f.description.strip()), "")
    if described and help_limit <= 0:
        described = "(left out to keep the upload under GitHub's limit: the JSON report has it)"
    facts = _RuleFacts(
        rule=rule,
        severity=max(f.severity for f in plain),
        description=shorten(described, help_limit) if help_limit > 0 else described,
        link=next((f.link for f in plain if _HTTP_URL.match(f.link)), None),
        scope=one_line(scope),
        affected=unique[:PACKAGES_LISTED],
        more=max(0, len(unique) - PACKAGES_LISTED),
        several_images=len({image for image, _ in findings}) > 1,
    )
    kind = plain[0].kind
    packages = ", ".join(sorted({f.component for f in plain if f.component})) or component_text(plain[0])
    title = f"{rule}: {facts.severity.label} {kind} in {packages}"
    descriptor: dict[str, object] = {
        "id": rule,
        "fullDescription": {
            "text": shorten(facts.description, DESCRIPTION_LIMIT) or f"{rule}: the console gives no description."
        },
        "help": {"text": _help_text(facts), "markdown": _help_markdown(facts)},
        "helpUri": facts.link,
        "properties": _rule_properties(facts.severity, plain),
        "shortDescription": {"text": shorten(title, TITLE_LIMIT)},
    }
    return {key: value for key, value in descriptor.items() if value is not None}


def _rule_properties(severity: Severity, findings: list[Finding]) -> dict[str, object]:
    kinds = sorted({f.kind for f in findings})
    cve_types = sorted({f.details.cve_type for f in findings if f.details is not None and f.details.cve_type})
    tags = list(dict.fromkeys(["security", *kinds, severity.label, *cve_types]))
    properties: dict[str, object] = {"tags": tags[:MAX_TAGS], "precision": "high"}
    scores = [score for f in findings if (score := security_severity(f.severity, f.score))]
    if scores:
        properties["security-severity"] = max(scores, key=float)
    return properties


def _help_text(facts: _RuleFacts) -> str:
    lines = [f"{facts.rule} ({facts.severity.label})", ""]
    lines += [facts.description or "The console gives no description.", ""]
    lines.append(f"Affected packages in {facts.scope}:")
    for image, f in facts.affected:
        where = f" at {one_line(f.location)}" if f.location else ""
        inside = f" in {one_line(image)}" if facts.several_images else ""
        lines.append(f"- {one_line(f.component)}{where}{inside}: {fix_text(f)}")
    if facts.more:
        lines.append(f"- ... and {facts.more} more")
    if facts.link:
        lines += ["", f"More information: {facts.link}"]
    return "\n".join(lines)


@lru_cache(maxsize=1 << 14)
def _cell(text: str) -> str:
    """`text` on one line, Markdown and table syntax escaped (versions and paths repeat in every rule)."""
    return one_line(text).translate(_MARKDOWN_ESCAPES)


def _table_row(image: str, finding: Finding, several_images: bool) -> str:
    cells = [_cell(finding.component), _cell(finding.location), _cell(finding.fixed_in) or "no fix"]
    if several_images:
        cells.insert(0, _cell(image))
    return f"| {' | '.join(cells)} |"


def _help_markdown(facts: _RuleFacts) -> str:
    lines = [
        f"**{_cell(facts.rule)}** ({facts.severity.label})",
        "",
        _cell(facts.description) or "The console gives no description.",
        "",
        f"Affected packages in {_cell(facts.scope)}:",
        "",
    ]
    if facts.several_images:
        lines += ["| Image | Package | Path | Fixed in |", "| --- | --- | --- | --- |"]
    else:
        lines += ["| Package | Path | Fixed in |", "| --- | --- | --- |"]
    lines += [_table_row(image, f, facts.several_images) for image, f in facts.affected]
    if facts.more:
        lines.append(f"| ... and {facts.more} more |{' |' * (3 if facts.several_images else 2)}")
    if facts.link:
        lines += ["", f"[More information](<{facts.link}>)"]
    return "\n".join(lines)
