"""Text a client must print safely: lone surrogates, terminal escapes, CI workflow commands, huge numbers."""

from __future__ import annotations

from typing import Any

ANSI_STATUS_MESSAGE = "\x1b[1;31mscan\x1b[0m finished \x1b]0;owned\x07\x1b[2K\x1b[1A"
"""A status_message full of ANSI/OSC escapes (json.dumps writes them as \\u001b)."""
HOSTILE_PACKAGES = (
    "libbroken\ud800",  # a lone surrogate: the JSON text holds "\ud800", which is no valid UTF-16
    "\x1b[31mlibred\x1b[0m",
    "libquiet\n::add-mask::x",  # a GitHub Actions workflow command on a line of its own
)
HOSTILE_VERSION = "1.0.0"
HUGE_SCORE = 10**400 - 1
"""A 400-digit cve_cvss_score. It is a Python int, so json.dumps writes every digit (no float could)."""


def make_hostile(findings: list[dict[str, Any]]) -> None:
    """Give the first findings hostile package names and the first one the 400-digit score, in place."""
    for finding, name in zip(findings, HOSTILE_PACKAGES, strict=False):
        package = f"{name}:{HOSTILE_VERSION}"
        finding["cve_caused_by_package"] = package
        finding["node_id"] = f"{finding['cve_caused_by_package_path']}-{package}-{finding['cve_id']}"
        finding["cve_description"] = f"A flaw in {name} {HOSTILE_VERSION}."
    if findings:
        findings[0]["cve_cvss_score"] = HUGE_SCORE
