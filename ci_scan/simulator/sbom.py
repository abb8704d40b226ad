"""The runtime SBOM (`POST /deepfence/scan/sbom`): written by the matching task as its last act."""

from __future__ import annotations

from typing import Any

from .findings import PACKAGE_NAMES
from .hostile import HOSTILE_PACKAGES
from .responses import ApiError, Response, error_response, json_response
from .scan_api import find_scan
from .state import Call, ConsoleState

MISSING_OBJECT = "The specified key does not exist."
"""What the file server says while `sbom/runtime-<scan_id>.json` has not been written."""
_DPKG_STATUS = "/var/lib/dpkg/status"
_LICENSES = {
    "openssl": "Apache-2.0", "libssl3": "Apache-2.0", "zlib1g": "Zlib", "curl": "curl",
    "libc6": "LGPL-2.1-or-later", "bash": "GPL-3.0-or-later", "libxml2": "MIT", "sqlite3": "blessing",
    "libexpat1": "MIT", "krb5-locales": "MIT", "tar": "GPL-3.0-or-later", "libgnutls30": "LGPL-2.1-or-later",
    "log4j-core": "Apache-2.0", "jackson-databind": "Apache-2.0", "spring-core": "Apache-2.0",
    "snakeyaml": "Apache-2.0", "requests": "Apache-2.0", "urllib3": "MIT", "django": "BSD-3-Clause",
    "pyyaml": "MIT", "lodash": "MIT", "minimist": "MIT", "axios": "MIT", "express": "MIT",
    "golang.org/x/net": "BSD-3-Clause", "golang.org/x/crypto": "BSD-3-Clause",
    "google.golang.org/grpc": "Apache-2.0", "stdlib": "BSD-3-Clause",
}  # fmt: skip
# OS packages every image carries that no CVE matched.
_CLEAN_PACKAGES = (
    ("base-files", "12ubuntu4.6", "GPL-2.0-or-later"),
    ("ca-certificates", "20230311ubuntu0.22.04.1", "MPL-2.0"),
    ("libgcc-s1", "12.3.0-1ubuntu1~22.04", "GPL-3.0-or-later"),
    ("tzdata", "2024a-0ubuntu0.22.04", "public-domain"),
)
_NAMES = sorted({*PACKAGE_NAMES, *HOSTILE_PACKAGES}, key=len, reverse=True)


def split_package(package: str) -> tuple[str, str]:
    """`cve_caused_by_package` ("<name>:<version>") back into name and version; both may hold colons."""
    name = next((n for n in _NAMES if package.startswith(f"{n}:")), package.partition(":")[0])
    return name, package[len(name) + 1 :]


def _locations(name: str, path: str) -> list[str]:
    return [path] if path else [_DPKG_STATUS, f"/usr/share/doc/{name}/copyright"]


def runtime_sbom(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`ModelSbomResponse`s: one per package with the last CVE matched for it, plus CVE-free ones; by name."""
    packages: dict[str, dict[str, Any]] = {}
    for finding in findings:
        name, version = split_package(finding["cve_caused_by_package"])
        entry = packages.setdefault(
            finding["cve_caused_by_package"],
            {"package_name": name, "version": version, "locations": [],
             "licenses": [_LICENSES[name]] if name in _LICENSES else []},
        )  # fmt: skip
        for location in _locations(name, finding["cve_caused_by_package_path"]):
            if location not in entry["locations"]:
                entry["locations"].append(location)
        entry.update(cve_id=finding["cve_id"], severity=finding["cve_severity"], cve_node_id=finding["node_id"])
    clean = [
        {"package_name": name, "version": version, "locations": _locations(name, ""), "licenses": [licence],
         "cve_id": "", "severity": "", "cve_node_id": ""}
        for name, version, licence in _CLEAN_PACKAGES
    ]  # fmt: skip
    return sorted([*packages.values(), *clean], key=lambda entry: (entry["package_name"], entry["version"]))


def get_sbom(state: ConsoleState, call: Call) -> Response:
    """500 until the scan's matching has finished (the file is missing), then the runtime SBOM."""
    scan = find_scan(state, call.body["scan_id"])
    if not scan.matched:
        raise ApiError(error_response(500, MISSING_OBJECT))
    return json_response(200, runtime_sbom(scan.node.findings()))
