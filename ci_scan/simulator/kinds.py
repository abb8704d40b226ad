"""The scan types the simulator runs, and what differs between them (the console's `type2sevField` and co.)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScanKind:
    name: str
    """The path segment: /deepfence/scan/start/<name>."""
    scan_type: str
    """The Neo4j label, which is also `scan_type` in stop requests."""
    severity_field: str
    """What `severity_counts` are keyed by."""
    results_field: str
    """The findings list in a results reply."""
    tie_breaker: str
    """What the console orders by after the requested order fields."""


VULNERABILITY = ScanKind("vulnerability", "VulnerabilityScan", "cve_severity", "vulnerabilities", "cve_id")
SECRET = ScanKind("secret", "SecretScan", "level", "secrets", "node_id")
MALWARE = ScanKind("malware", "MalwareScan", "file_severity", "malwares", "node_id")
KINDS = {kind.name: kind for kind in (VULNERABILITY, SECRET, MALWARE)}
BY_SCAN_TYPE = {kind.scan_type: kind for kind in KINDS.values()}
