"""The baseline: findings that already existed, so that the gate fails only on new ones.

A finding is in the baseline when one of the baseline's findings has the same kind, rule id, package
name and path. The version is left out on purpose: a package bumped to a version that still has the
CVE is not a new finding. The console's own comparison (`/deepfence/diff-add/...`) compares finding
nodes whose ids include the version, so ci-scan matches locally instead.

Three sources: a scan on the console (`--baseline-scan-id`), applying to every target of the run;
the latest COMPLETE scan of an image (`--baseline-image`) and an earlier ci-scan JSON report
(`--baseline-report`), applying to the targets of the same repository. A target gated on the very
scan the baseline came from is gated without it: a scan compared with itself would have nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_scan.errors import ConfigError
from ci_scan.models import Finding, ImageRef, ImageRefError, Target
from ci_scan.user_files import read_user_file

BaselineKey = tuple[str, str, str, str]
"""(kind, rule id in capitals, package name, path)."""


def baseline_key(kind: str, rule_id: str, package_name: str, location: str) -> BaselineKey:
    return (kind, rule_id.strip().upper(), package_name.strip(), location.strip())


@dataclass(frozen=True)
class BaselineRequest:
    """Which baseline the run compares with; at most one of the three."""

    scan_id: str = ""
    image: ImageRef | None = None
    report: str = ""

    @classmethod
    def build(cls, scan_id: str | None, image: str | None, report: str | None) -> BaselineRequest | None:
        # A blank value is not given (as an empty variable is not): else it would pass as a baseline naming nothing.
        scan_id, image, report = (value if value and value.strip() else None for value in (scan_id, image, report))
        given = [name for name, value in (("--baseline-scan-id", scan_id), ("--baseline-image", image),
                                          ("--baseline-report", report)) if value]
        if len(given) > 1:
            raise ConfigError(f"{' and '.join(given)} name two baselines: choose one")
        if not given:
            return None
        try:
            ref = ImageRef.parse(image) if image else None
        except ImageRefError as exc:
            raise ConfigError(f"--baseline-image: {exc}") from None
        return cls(scan_id=(scan_id or "").strip(), image=ref, report=report or "")


@dataclass(frozen=True)
class Baseline:
    source: str
    """What the findings were compared with, e.g. `scan <id>` or `report previous.json`."""
    shared: frozenset[BaselineKey] = frozenset()
    """Keys that apply to every target."""
    everywhere: bool = False
    """Whether the shared keys are the baseline of every target (a console scan), even when none."""
    by_repository: Mapping[str, frozenset[BaselineKey]] = field(default_factory=dict)
    """Keys that apply to the targets of one repository (a report's, or a baseline image's)."""
    scan_ids: frozenset[str] = frozenset()
    """The console scans the findings came from: a target gated on one of them has no baseline."""

    def contains(self, finding: Finding, target: Target) -> bool:
        key = key_of(finding)
        return key in self.shared or key in self.by_repository.get(target.repository, frozenset())

    def covers(self, target: Target) -> bool:
        """Whether the baseline says anything about `target` (else all its findings are new)."""
        return self.everywhere or target.repository in self.by_repository

    @classmethod
    def of(cls, source: str, findings: Iterable[Finding], scan_ids: Iterable[str] = (),
           repository: str = "") -> Baseline:
        """Console scans' findings: the baseline of the targets of `repository`, or of every target."""
        keys = frozenset(key_of(f) for f in findings)
        if repository:
            return cls(source, by_repository={repository: keys}, scan_ids=frozenset(scan_ids))
        return cls(source, shared=keys, everywhere=True, scan_ids=frozenset(scan_ids))


def key_of(finding: Finding) -> BaselineKey:
    return baseline_key(finding.kind, finding.rule_id, finding.package_name, finding.location)


def load_baseline_report(path: str) -> Baseline:
    """The findings of the completed targets of an earlier ci-scan JSON report (schema_version 2)."""
    text = read_user_file(path, "--baseline-report")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--baseline-report {path} line {exc.lineno}: not JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits, nesting past the limit
        raise ConfigError(f"--baseline-report {path}: cannot be read ({exc})") from None
    version = document.get("schema_version") if isinstance(document, dict) else None
    tool = document.get("tool") if isinstance(document, dict) else None
    if not isinstance(tool, dict) or tool.get("name") != "ci-scan" or version != 2:
        shown = f" (schema_version {version})" if version is not None else ""
        raise ConfigError(f"--baseline-report {path} is not a ci-scan JSON report of schema_version 2{shown}: "
                          "give the --json report of an earlier run")
    keys: dict[str, set[BaselineKey]] = {}
    try:
        for entry in document["targets"]:
            if entry["error"] or entry["timed_out"]:
                continue  # an incomplete target's findings are not a baseline
            target = entry["target"]
            repository = f"{target['registry']}/{target['repository']}" if target.get("repository") else target["name"]
            found = keys.setdefault(str(repository), set())
            for finding in entry["findings"]:
                found.add(baseline_key(str(finding["kind"]), str(finding["rule_id"]), str(finding["package_name"]),
                                       str(finding["location"])))
    except (KeyError, TypeError, AttributeError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else f"malformed: {exc}"
        raise ConfigError(f"--baseline-report {path} is not a complete ci-scan report ({what})") from None
    return Baseline(f"report {Path(path).name}", by_repository={r: frozenset(k) for r, k in keys.items()})
