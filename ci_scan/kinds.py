"""What differs between scan kinds on the console: paths, type names and result fields, in one table."""

from __future__ import annotations

from dataclasses import dataclass

from ci_scan.models import FindingKind


@dataclass(frozen=True)
class ScanKind:
    name: FindingKind
    path: str
    """The last segment of `/deepfence/scan/{start,status,results,stop,list}/<path>`."""
    scan_type: str
    """`scan_type` of stop requests and downloads."""
    results_field: str
    """The list of findings in a results reply."""
    order_fields: tuple[str, ...]
    """Result fields that give a stable order when paging."""
    has_languages: bool
    """Whether starts take `scan_config` languages."""
    has_sbom: bool
    """Whether the console builds a runtime SBOM last, the sign that its matching has finished."""

    def endpoint(self, action: str) -> str:
        return f"/deepfence/scan/{action}/{self.path}"


VULNERABILITY = ScanKind(
    name="vulnerability",
    path="vulnerability",
    scan_type="VulnerabilityScan",
    results_field="vulnerabilities",
    order_fields=("cve_id", "node_id"),
    has_languages=True,
    has_sbom=True,
)
SECRET = ScanKind(
    name="secret",
    path="secret",
    scan_type="SecretScan",
    results_field="secrets",
    order_fields=("rule_id", "node_id"),
    has_languages=False,
    has_sbom=False,
)
MALWARE = ScanKind(
    name="malware",
    path="malware",
    scan_type="MalwareScan",
    results_field="malwares",
    order_fields=("rule_id", "node_id"),
    has_languages=False,
    has_sbom=False,
)
SCAN_KINDS: dict[FindingKind, ScanKind] = {kind.name: kind for kind in (VULNERABILITY, SECRET, MALWARE)}
