"""Console baselines through the real app and client, against the simulator in-process, on a fake clock.

The sample console gets a newer tag of team/app (1.5.0) built from 1.4.2's findings: every package
bumped to another version of the same name and path, five findings fixed, and one new high CVE. So a
baseline of 1.4.2 leaves exactly one new finding in 1.5.0.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_scan.app import run
from ci_scan.config import ExistingScans, ImageScan, Request, Settings
from ci_scan.errors import ConfigError, ExitCode
from ci_scan.models import ImageRef
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, Dataset, Image, default_dataset
from ci_scan.simulator.data import EPOCH_MS
from ci_scan.simulator.sbom import split_package
from ci_scan.simulator.scans import build_steps
from tests.conftest import FakeTime
from tests.contract import CheckedTransport, SpecContract

URL = "https://console.test"
REG = "registry.example.com/team"
OLD = f"{REG}/app:1.4.2"
NEW = f"{REG}/app:1.5.0"
NEW_CVE = "CVE-2099-0002"
FIXED = 5
START = "/deepfence/scan/start/vulnerability"
RESULTS = "/deepfence/scan/results/vulnerability"


def dataset_with_newer_tag() -> Dataset:
    """The sample console plus team/app:1.5.0: 1.4.2's findings with bumped versions, 5 fixed, 1 new high."""
    dataset = default_dataset()
    old = dataset.image("team/app", "1.4.2")
    findings = []
    for finding in old.findings()[FIXED:]:
        name, version = split_package(finding["cve_caused_by_package"])
        package = f"{name}:{version}.1"
        findings.append({**finding, "cve_caused_by_package": package,
                         "node_id": f"{finding['cve_caused_by_package_path']}-{package}-{finding['cve_id']}"})
    template = next(f for f in findings if f["cve_severity"] == "high" and not f["masked"])
    package = template["cve_caused_by_package"]
    findings.append({**template, "cve_id": NEW_CVE, "rule_id": NEW_CVE,
                     "node_id": f"{template['cve_caused_by_package_path']}-{package}-{NEW_CVE}"})
    newer = Image("team/app", ["1.5.0"], digest="sha256:" + "5" * 64, pushed_at=EPOCH_MS + 30 * 60_000,
                  _findings=findings)
    dataset.registries[0].images.append(newer)
    return dataset


class Console:
    """One simulated console on one fake clock, run against as many times as a test likes."""

    def __init__(self, dataset: Dataset | None = None, contract: SpecContract | None = None) -> None:
        self.time = FakeTime()
        # The console's clock moves with the fake one, so that a later scan is updated later.
        self.sim = ConsoleSimulator(dataset, clock=lambda: EPOCH_MS / 1000 + 3600 + self.time.now)
        self.contract = contract

    def transport(self) -> httpx.BaseTransport:
        if self.contract is not None:
            return CheckedTransport(self.sim, self.contract)
        return httpx.WSGITransport(app=self.sim)

    def run(self, ref: str | Request, report: Path | None = None, cancel: bool = True,
            **policy: Any) -> tuple[ExitCode, str, str]:
        request = ImageScan((ImageRef.parse(ref),)) if isinstance(ref, str) else ref
        settings = Settings.build(console_url=URL, api_token=ADMIN_TOKEN, request=request, cancel=cancel,
                                  policy=policy, reports={"json": str(report) if report else None})
        out, err = io.StringIO(), io.StringIO()
        before = self.contract.checked if self.contract else 0
        transport = self.transport()
        code = run(settings, transport=transport, stdout=out, stderr=err, clock=self.time.clock,
                   sleep=self.time.sleep)
        if isinstance(transport, CheckedTransport):
            assert self.contract is not None and self.contract.checked - before == len(transport.paths)
        return code, out.getvalue(), err.getvalue()

    def starts(self) -> int:
        return sum(1 for r in self.sim.requests if r.path == START)

    def results_of(self) -> list[str]:
        """The scan id of every results request, in order."""
        return [r.json()["scan_id"] for r in self.sim.requests if r.path == RESULTS]


def report_of(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dispositions(document: Any) -> dict[str, str]:
    (target,) = document["targets"]
    return {f["rule_id"]: f["disposition"] for f in target["findings"]}


def test_a_baseline_scan_id_makes_only_new_findings_count(tmp_path: Path, contract: SpecContract) -> None:
    console = Console(dataset_with_newer_tag(), contract)
    code, _, _ = console.run(OLD, tmp_path / "old.json")
    assert code == ExitCode.GATE_FAILED
    old = report_of(tmp_path / "old.json")
    scan_id = old["targets"][0]["scan"]["id"]
    assert scan_id == console.sim.dataset.image("team/app", "1.4.2").latest_scan_id
    old_findings = {f["rule_id"]: f for f in old["targets"][0]["findings"]}

    # Without a baseline the newer tag fails: it still has 1.4.2's criticals (bumped, not fixed).
    code, _, _ = console.run(NEW, tmp_path / "plain.json")
    assert code == ExitCode.GATE_FAILED
    plain = report_of(tmp_path / "plain.json")
    assert plain["gate"]["baseline"] is None
    assert "existing" not in dispositions(plain).values()

    starts = console.starts()
    asked = len(console.sim.requests)
    code, stdout, stderr = console.run(NEW, tmp_path / "new.json", baseline_scan_id=scan_id)
    assert code == ExitCode.PASSED, stdout + stderr
    assert console.starts() == starts + 1  # the target's scan; the baseline started nothing
    document = report_of(tmp_path / "new.json")
    assert document["gate"]["baseline"] == f"scan {scan_id}"
    assert f"Baseline: scan {scan_id} with 45 findings" in stderr
    found = dispositions(document)
    assert len(found) == 45 - FIXED + 1
    assert found.pop(NEW_CVE) == "passing"  # a high at --fail-on critical
    masked = {rule for rule, f in old_findings.items() if f["masked"]}
    assert masked and {found.pop(rule) for rule in masked if rule in found} <= {"masked"}
    assert set(found.values()) == {"existing"}
    (target,) = document["targets"]
    existing = [f for f in target["findings"] if f["disposition"] == "existing"]
    assert all(f["reason"] == f"existing: already in the baseline (scan {scan_id}), so not new" for f in existing)
    # Matched across versions: each existing finding's package moved on from the baseline's.
    assert all(f["package_version"] != old_findings[f["rule_id"]]["package_version"] for f in existing)
    assert all(f["package_name"] == old_findings[f["rule_id"]]["package_name"] for f in existing)
    assert f"{len(existing)} finding(s) already in the baseline (scan {scan_id})" in target["reason"]
    # The baseline was fetched before the target's scan was started.
    later = console.sim.requests[asked:]
    first_start = next(i for i, r in enumerate(later) if r.path == START)
    assert any(r.path == RESULTS and r.json()["scan_id"] == scan_id for r in later[:first_start])

    # At --fail-on high the one new finding fails the gate, and only it.
    code, _, _ = console.run(NEW, tmp_path / "high.json", baseline_scan_id=scan_id, fail_on="high")
    assert code == ExitCode.GATE_FAILED
    high = report_of(tmp_path / "high.json")
    assert high["gate"]["failing"] == 1
    assert [f["rule_id"] for f in high["targets"][0]["findings"] if f["disposition"] == "failing"] == [NEW_CVE]
    # ... where without the baseline every high and critical fails.
    code, _, _ = console.run(NEW, tmp_path / "high-plain.json", fail_on="high")
    assert code == ExitCode.GATE_FAILED and report_of(tmp_path / "high-plain.json")["gate"]["failing"] > 10


def test_the_same_image_twice_with_itself_as_baseline_passes(tmp_path: Path) -> None:
    console = Console()
    code, _, _ = console.run(OLD, tmp_path / "first.json")
    assert code == ExitCode.GATE_FAILED
    scan_id = report_of(tmp_path / "first.json")["targets"][0]["scan"]["id"]
    code, stdout, stderr = console.run(OLD, tmp_path / "second.json", baseline_scan_id=scan_id, fail_on="unknown")
    assert code == ExitCode.PASSED, stdout + stderr
    assert set(dispositions(report_of(tmp_path / "second.json")).values()) == {"existing", "masked"}


def test_a_baseline_image_uses_its_latest_complete_scan(tmp_path: Path, contract: SpecContract) -> None:
    console = Console(dataset_with_newer_tag(), contract)
    assert console.run(OLD)[0] == ExitCode.GATE_FAILED
    first = console.sim.dataset.image("team/app", "1.4.2").latest_scan_id
    assert console.run(OLD)[0] == ExitCode.GATE_FAILED
    latest = console.sim.dataset.image("team/app", "1.4.2").latest_scan_id
    assert latest != first
    fetched = len(console.results_of())
    code, stdout, stderr = console.run(NEW, tmp_path / "new.json", baseline_image=OLD)
    assert code == ExitCode.PASSED, stdout + stderr
    document = report_of(tmp_path / "new.json")
    assert document["gate"]["baseline"] == f"the latest scan of {OLD}: scan {latest}"
    assert f"Baseline: the latest scan of {OLD} (scan {latest}) with 45 findings" in stderr
    baseline_reads = console.results_of()[fetched:]
    assert latest in baseline_reads and first not in baseline_reads
    found = dispositions(document)
    assert found.pop(NEW_CVE) == "passing" and set(found.values()) == {"existing", "masked"}


def test_a_baseline_image_never_scanned_is_exit_2_and_starts_nothing(contract: SpecContract) -> None:
    console = Console(dataset_with_newer_tag(), contract)
    code, stdout, stderr = console.run(NEW, baseline_image=f"{REG}/app:1.4.1")
    assert code == ExitCode.USAGE
    assert (f"ci-scan: error: --baseline-image: {REG}/app:1.4.1 has no COMPLETE vulnerability scan on the console "
            "to compare with") in stderr
    assert console.starts() == 0 and stdout == ""


def test_a_baseline_image_whose_only_scans_are_not_complete_is_exit_2() -> None:
    console = Console()
    assert console.run(f"{REG}/broken:1.0")[0] == ExitCode.SCAN_INCOMPLETE  # the console's scan ended ERROR
    starts = console.starts()
    code, _, stderr = console.run(OLD, baseline_image=f"{REG}/broken:1.0")
    assert code == ExitCode.USAGE and "has no COMPLETE vulnerability scan" in stderr
    assert console.starts() == starts


def test_a_baseline_image_not_on_the_console_is_exit_2_naming_the_baseline() -> None:
    console = Console()
    code, _, stderr = console.run(OLD, baseline_image=f"{REG}/nope:1.0")
    assert code == ExitCode.USAGE, stderr
    assert "ci-scan: error: --baseline-image: " in stderr and "nope" in stderr
    assert console.starts() == 0


def test_an_unknown_baseline_scan_id_is_exit_2_and_starts_nothing() -> None:
    console = Console()
    code, stdout, stderr = console.run(OLD, baseline_scan_id="0123abcd-1732000000")
    assert code == ExitCode.USAGE
    assert "ci-scan: error: --baseline-scan-id: the console has no vulnerability scan '0123abcd-1732000000'" in stderr
    assert console.starts() == 0 and stdout == ""


@pytest.mark.parametrize(("image", "status"), [("stuck:1.0", "IN_PROGRESS"), ("broken:1.0", "ERROR")])
def test_a_baseline_scan_that_is_not_complete_is_exit_2(image: str, status: str) -> None:
    console = Console()
    console.run(f"{REG}/{image}", cancel=False)  # stuck: times out, its scan still running
    scan_id = console.sim.dataset.image(f"team/{image.split(':')[0]}", "1.0").latest_scan_id
    assert console.sim.state.scans.scans[scan_id].status == status
    starts = console.starts()
    code, _, stderr = console.run(OLD, baseline_scan_id=scan_id)
    assert code == ExitCode.USAGE
    assert f"--baseline-scan-id: scan {scan_id} is {status}, not COMPLETE: compare with a finished scan" in stderr
    assert console.starts() == starts


def test_a_baseline_scan_whose_results_contradict_its_counts_is_exit_3_not_a_traceback() -> None:
    console = Console()
    assert console.run(f"{REG}/contradictory:1.0")[0] == ExitCode.SCAN_INCOMPLETE
    scan_id = console.sim.dataset.image("team/contradictory", "1.0").latest_scan_id
    starts = console.starts()
    code, _, stderr = console.run(OLD, baseline_scan_id=scan_id)
    assert code == ExitCode.SCAN_INCOMPLETE
    assert "ci-scan: error: --baseline-scan-id: the console counted 2 findings" in stderr
    assert console.starts() == starts


def test_a_blank_baseline_scan_id_is_no_baseline() -> None:
    console = Console()
    code, stdout, stderr = console.run(f"{REG}/app:1.4.1", baseline_scan_id="  ")
    assert code == ExitCode.PASSED, stdout + stderr
    assert "Baseline" not in stderr


def test_two_console_baselines_are_a_config_error_before_anything_is_asked() -> None:
    console = Console()
    with pytest.raises(ConfigError, match="--baseline-scan-id and --baseline-image name two baselines: choose one"):
        console.run(OLD, baseline_scan_id="x-1", baseline_image=OLD)
    assert console.sim.requests == []


def test_a_baseline_scan_still_being_matched_is_waited_for(tmp_path: Path) -> None:
    """A scan that has just reached COMPLETE has not all its findings yet (API_NOTES §5.1): a baseline
    fetched then would be short, and every finding it lacks would read as new."""
    console = Console()
    state = console.sim.state
    image = state.dataset.image("team/app", "1.4.2")
    scan = state.scans.start(image, build_steps(image.scenario, state.matching_polls), state.now_ms())
    while scan.status != "COMPLETE":
        scan.advance(state.now_ms())
    assert not scan.ingested_findings(), "the test needs a COMPLETE scan whose findings have not landed"
    code, stdout, stderr = console.run(OLD, tmp_path / "gated.json", baseline_scan_id=scan.scan_id, fail_on="unknown")
    assert code == ExitCode.PASSED, stdout + stderr
    assert set(dispositions(report_of(tmp_path / "gated.json")).values()) == {"existing", "masked"}
    assert f"Baseline: scan {scan.scan_id} with {len(image.findings())} findings" in stderr


def test_a_scan_gated_against_itself_is_gated_without_the_baseline(tmp_path: Path) -> None:
    console = Console()
    code, _, _ = console.run(OLD, tmp_path / "first.json")
    assert code == ExitCode.GATE_FAILED
    scan_id = report_of(tmp_path / "first.json")["targets"][0]["scan"]["id"]
    code, stdout, _ = console.run(ExistingScans((scan_id,)), tmp_path / "again.json", baseline_scan_id=scan_id)
    assert code == ExitCode.GATE_FAILED, stdout
    assert "the baseline itself: compared with itself nothing would be new" in stdout
    assert "existing" not in set(dispositions(report_of(tmp_path / "again.json")).values())


def test_a_baseline_image_is_the_baseline_of_its_own_repository_only(tmp_path: Path) -> None:
    console = Console(dataset_with_newer_tag())
    console.run(OLD)  # the baseline: app 1.4.2's scan
    both = ImageScan((ImageRef.parse(NEW), ImageRef.parse(f"{REG}/multiarch:1.0")))
    code, stdout, stderr = console.run(both, tmp_path / "both.json", baseline_image=OLD, fail_on="critical")
    assert code == ExitCode.GATE_FAILED, stdout + stderr  # multiarch's critical is new: no baseline for it
    document = report_of(tmp_path / "both.json")
    by_target = {t["target"]["name"]: {f["disposition"] for f in t["findings"]} for t in document["targets"]}
    assert "existing" in by_target[NEW]
    assert all("existing" not in found for name, found in by_target.items() if "multiarch" in name)
    assert f"has no scan of {REG}/multiarch:1.0" in stdout
