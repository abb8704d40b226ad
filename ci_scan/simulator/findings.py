"""Deterministic, realistic-looking `ModelVulnerability` records.

Scores follow the console: `cve_overall_score` is the CVSS exploitability sub-score (0.1-3.9, or 0 when
unknown) and `cve_cvss_score` is the same value, falling back to 9/7/5/2 by severity when it is 0.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "unknown")
_SITE = "/usr/local/lib/python3.11/site-packages"

# (name, installed version, first fixed version or "", file path for language packages)
_PACKAGES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "base": (
        ("openssl", "3.0.2", "3.0.14", ""),
        ("libssl3", "3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.15", ""),
        ("zlib1g", "1:1.2.11.dfsg-2ubuntu9", "1:1.2.11.dfsg-2ubuntu9.2", ""),
        ("curl", "7.81.0-1ubuntu1.13", "7.81.0-1ubuntu1.16", ""),
        ("libc6", "2.35-0ubuntu3.1", "2.35-0ubuntu3.6", ""),
        ("bash", "5.1-6ubuntu1", "", ""),
        ("libxml2", "2.9.13+dfsg-1ubuntu0.3", "2.9.13+dfsg-1ubuntu0.4", ""),
        ("sqlite3", "3.37.2-2ubuntu0.1", "3.37.2-2ubuntu0.3", ""),
        ("libexpat1", "2.4.7-1ubuntu0.2", "2.4.7-1ubuntu0.3", ""),
        ("krb5-locales", "1.19.2-2ubuntu0.2", "", ""),
        ("tar", "1.34+dfsg-1ubuntu0.1.22.04.1", "", ""),
        ("libgnutls30", "3.7.3-4ubuntu1.2", "3.7.3-4ubuntu1.4", ""),
    ),
    "java": (
        ("log4j-core", "2.14.1", "2.17.1", "/app/lib/log4j-core-2.14.1.jar"),
        ("jackson-databind", "2.12.3", "2.12.7.1", "/app/lib/jackson-databind-2.12.3.jar"),
        ("spring-core", "5.3.18", "5.3.20", "/app/lib/spring-core-5.3.18.jar"),
        ("snakeyaml", "1.29", "2.0", "/app/lib/snakeyaml-1.29.jar"),
    ),
    "python": (
        ("requests", "2.25.1", "2.31.0", f"{_SITE}/requests-2.25.1.dist-info/METADATA"),
        ("urllib3", "1.26.4", "1.26.18", f"{_SITE}/urllib3-1.26.4.dist-info/METADATA"),
        ("django", "3.2.4", "3.2.25", f"{_SITE}/Django-3.2.4.dist-info/METADATA"),
        ("pyyaml", "5.3.1", "5.4", f"{_SITE}/PyYAML-5.3.1.dist-info/METADATA"),
    ),
    "javascript": (
        ("lodash", "4.17.20", "4.17.21", "/app/node_modules/lodash/package.json"),
        ("minimist", "1.2.5", "1.2.6", "/app/node_modules/minimist/package.json"),
        ("axios", "0.21.1", "0.21.2", "/app/node_modules/axios/package.json"),
        ("express", "4.17.1", "4.19.2", "/app/node_modules/express/package.json"),
    ),
    "golang": (
        ("golang.org/x/net", "v0.7.0", "v0.17.0", "/usr/local/bin/app"),
        ("golang.org/x/crypto", "v0.1.0", "v0.17.0", "/usr/local/bin/app"),
        ("google.golang.org/grpc", "v1.50.1", "v1.56.3", "/usr/local/bin/app"),
        ("stdlib", "go1.19.4", "1.20.12", "/usr/local/bin/app"),
    ),
}
PACKAGE_NAMES = frozenset(name for packages in _PACKAGES.values() for name, *_ in packages)
_CVE_TYPES = ("base",) * 6 + ("java", "python", "javascript", "golang")
_NAMESPACES = {
    "base": "ubuntu:distro:ubuntu:22.04",
    "java": "github:language:java",
    "python": "github:language:python",
    "javascript": "github:language:javascript",
    "golang": "github:language:go",
}
_EXPLOITABILITY = {
    "critical": (3.9, 3.9, 2.8, 0.0),
    "high": (3.9, 2.8, 1.8, 0.0),
    "medium": (2.8, 1.8, 1.2, 0.0),
    "low": (1.8, 1.2, 0.5, 0.0),
    "unknown": (0.0,),
}
_FALLBACK_SCORE = {"critical": 9.0, "high": 7.0, "medium": 5.0, "low": 2.0, "unknown": 0.0}
_IMPACTS = {
    "critical": "c:h/i:h/a:h",
    "high": "c:h/i:n/a:h",
    "medium": "c:l/i:l/a:n",
    "low": "c:l/i:n/a:n",
}
_WEAKNESSES = (
    "A buffer overflow", "An out-of-bounds read", "A use-after-free", "Improper input validation",
    "A NULL pointer dereference", "An integer overflow", "Uncontrolled resource consumption",
    "Improper certificate validation", "A path traversal flaw", "Prototype pollution",
)  # fmt: skip
_EFFECTS = (
    "allows a remote attacker to execute arbitrary code",
    "may allow an attacker to cause a denial of service",
    "can disclose sensitive information",
    "allows a local user to escalate privileges",
    "may let crafted input bypass security checks",
)
_GHSA_ALPHABET = "23456789cfghjmpqrvwx"


def _ghsa(rng: random.Random) -> str:
    return "GHSA-" + "-".join("".join(rng.choices(_GHSA_ALPHABET, k=4)) for _ in range(3))


def _unique_id(rng: random.Random, used: set[str], cve_type: str) -> str:
    while True:
        if cve_type != "base" and rng.random() < 0.3:
            ident = _ghsa(rng)
        else:
            ident = f"CVE-{rng.randint(2014, 2025)}-{rng.randint(1000, 49999)}"
        if ident not in used:
            used.add(ident)
            return ident


def _finding(rng: random.Random, used: set[str], severity: str, masked: bool, updated_at: int) -> dict[str, Any]:
    cve_type = rng.choice(_CVE_TYPES)
    name, version, fixed, path = rng.choice(_PACKAGES[cve_type])
    cve_id = _unique_id(rng, used, cve_type)
    package = f"{name}:{version}"
    exploitability = rng.choice(_EXPLOITABILITY[severity])
    network = rng.random() < 0.7
    vector = ""
    if severity in _IMPACTS:
        vector = f"cvss:3.1/av:{'n' if network else 'l'}/ac:l/pr:n/ui:n/s:u/{_IMPACTS[severity]}"
    if cve_id.startswith("GHSA"):
        link = f"https://github.com/advisories/{cve_id}"
    else:
        link = f"https://nvd.nist.gov/vuln/detail/{cve_id}"
    severe = severity in ("critical", "high")
    return {
        "cve_id": cve_id,
        "cve_severity": severity,
        "cve_cvss_score": exploitability or _FALLBACK_SCORE[severity],
        "cve_overall_score": exploitability,
        "cve_caused_by_package": package,
        "cve_caused_by_package_path": path,
        "cve_container_layer": "",
        "cve_fixed_in": fixed if rng.random() < 0.8 else "",
        "cve_link": link,
        "cve_description": f"{rng.choice(_WEAKNESSES)} in {name} {version} {rng.choice(_EFFECTS)}.",
        "cve_type": cve_type,
        "cve_attack_vector": vector,
        "parsed_attack_vector": ("network" if network else "local") if vector else "",
        "urls": [link, f"https://security-tracker.debian.org/tracker/{cve_id}"],
        "exploit_poc": f"https://www.exploit-db.com/exploits/{rng.randint(40000, 52000)}"
        if severe and rng.random() < 0.1
        else "",
        "cisa_kev": severity == "critical" and rng.random() < 0.2,
        "epss_score": round(rng.uniform(0.2, 0.97) if severe else rng.uniform(0.0001, 0.05), 5),
        "has_live_connection": False,
        "masked": masked,
        "namespace": _NAMESPACES[cve_type],
        "node_id": f"{path}-{package}-{cve_id}",
        "rule_id": cve_id,
        "updated_at": updated_at,
    }


def generate_findings(
    seed: str, severities: Mapping[str, int], masked: Mapping[str, int], updated_at: int
) -> list[dict[str, Any]]:
    """`severities` unmasked plus `masked` masked findings, in a seeded, mixed order."""
    rng = random.Random(seed)
    slots = [(sev, False) for sev in SEVERITIES for _ in range(severities.get(sev, 0))]
    slots += [(sev, True) for sev in SEVERITIES for _ in range(masked.get(sev, 0))]
    rng.shuffle(slots)
    used: set[str] = set()
    return [_finding(rng, used, severity, is_masked, updated_at) for severity, is_masked in slots]
