"""Several images, a whole registry and existing scans, as a pipeline runs them: one verdict, one exit code."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.conftest import Simulator
from tests.e2e.test_scan_image import assert_no_token, assert_one_line_error, reports, validate_reports

pytestmark = pytest.mark.e2e
REG = "registry.example.com/team"


def test_several_images_give_one_verdict_and_reports_per_target(simulator: Simulator, tmp_path: Path) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text(f"# the release\n{REG}/clean:1.0\n{REG}/multiarch:1.0\n{REG}/app:1.4.1  # pinned\n")
    run = simulator.run("scan", "image", f"{REG}/app:1.4.1", "--images-from", str(listing), "--fail-on", "high",
                        *reports(tmp_path))
    assert run.code == 1, run.output  # multiarch's arm64 image has a critical
    assert "ci-scan: 4 target(s)" in run.stdout
    for name in ("app:1.4.1", "clean:1.0", "multiarch:1.0"):
        assert f"  {REG}/{name}" in run.stdout
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    assert [t["target"]["name"] for t in report["targets"]] == [
        f"{REG}/app:1.4.1", f"{REG}/clean:1.0", f"{REG}/multiarch:1.0", f"{REG}/multiarch:1.0"]
    assert len({t["target"]["digest"] for t in report["targets"]}) == 4
    assert [t["verdict"] for t in report["targets"]].count("failed") == 2
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    assert len(junit.findall("testsuite")) == 4
    sarif = parsed["sarif"]
    assert isinstance(sarif, dict)
    assert len(sarif["runs"]) == 3  # one per repository: app, clean, multiarch
    again = simulator.run("scan", "image", f"{REG}/clean:1.0", "--sarif", str(tmp_path / "c.sarif"),
                          "--sarif-category", "team-a/")
    assert again.code == 0, again.output
    (run_,) = json.loads((tmp_path / "c.sarif").read_text())["runs"]
    assert run_["automationDetails"]["id"] == f"team-a/{REG}/clean/"
    assert_no_token(run, tmp_path)


def test_a_missing_image_names_all_of_them_and_starts_nothing(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/app:1.4.1", f"{REG}/gone:1.0", f"{REG}/app:0.0.0")
    assert run.code == 3, run.output
    assert_one_line_error(run, "2 of 3 images are not on the console, so nothing was started", "gone", "0.0.0")
    assert "started for" not in run.stderr


@pytest.mark.parametrize(
    ("images", "code"),
    [
        (["app:1.4.2", "broken:1.0"], 1),
        (["clean:1.0", "broken:1.0", "stuck:1.0"], 3),
        (["clean:1.0", "stuck:1.0"], 4),
    ],
)
def test_exit_code_precedence(simulator: Simulator, tmp_path: Path, images: list[str], code: int) -> None:
    run = simulator.run("scan", "image", *(f"{REG}/{i}" for i in images), "--timeout", "3s",
                        "--json", str(tmp_path / "r.json"))
    assert run.code == code, run.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["gate"]["exit_code"] == code and len(report["targets"]) == len(images)


def test_a_whole_registry_is_one_start_and_gated_per_image(scaled_simulator: Simulator, tmp_path: Path) -> None:
    run = scaled_simulator.run("scan", "registry", "bulk-registry", "--tags", "recent", "--fail-on", "none",
                               *reports(tmp_path), timeout=300)
    assert run.code == 0, run.output
    selected = [line for line in run.stderr.splitlines() if line.startswith("Selected ")]
    assert len(selected) == 1 and "in registry bulk-registry (--tags recent)" in selected[0]
    count = int(selected[0].split()[1])
    report = validate_reports(tmp_path)["json"]
    assert isinstance(report, dict)
    assert len(report["targets"]) == count > 50
    assert all(t["target"]["name"].startswith("bulk.example.com/bulk/svc-") for t in report["targets"])
    # 500 targets: a line per round for all of them, not a line per target and status.
    assert f"Started {count} scan(s)" in run.stderr and " started for " not in run.stderr
    assert any(line.startswith("Scans after ") and f"of {count} done" in line for line in run.stderr.splitlines())
    assert len(run.stderr.splitlines()) < 40


def test_a_registry_scan_of_named_repositories(simulator: Simulator) -> None:
    run = simulator.run("scan", "registry", "example-registry", "--tags", "all", "--repository", "team/app")
    assert run.code == 1, run.output
    assert "Selected 2 image(s) in registry example-registry (--tags all, 1 repositories)" in run.stderr
    unknown = simulator.run("scan", "registry", "example-registry", "--repository", "team/none")
    assert unknown.code == 3
    assert_one_line_error(unknown, "has no repository 'team/none'")


def test_results_and_reuse_gate_existing_scans(fresh_simulator: Simulator, tmp_path: Path) -> None:
    first = fresh_simulator.run("scan", "image", f"{REG}/app:1.4.2", "--json", str(tmp_path / "first.json"))
    assert first.code == 1, first.output
    scan_id = json.loads((tmp_path / "first.json").read_text())["targets"][0]["scan"]["id"]
    again = fresh_simulator.run("results", scan_id, "--json", str(tmp_path / "again.json"))
    assert again.code == 1, again.output
    assert "started for" not in again.stderr
    report = json.loads((tmp_path / "again.json").read_text())
    assert report["targets"][0]["scan"]["id"] == scan_id
    assert len(report["targets"][0]["findings"]) == 45
    reused = fresh_simulator.run("scan", "image", f"{REG}/app:1.4.2", "--reuse-within", "1h")
    assert reused.code == 1, reused.output
    assert f"reused scan {scan_id}" in reused.stderr and "started for" not in reused.stderr
    missing = fresh_simulator.run("results", "nope-1")
    assert missing.code == 3
    assert_one_line_error(missing, "no vulnerability scan 'nope-1'")


def test_a_second_run_attaches_to_the_scan_already_running(fresh_simulator: Simulator) -> None:
    first = fresh_simulator.run("scan", "image", f"{REG}/stuck:1.0", "--timeout", "3s")
    assert first.code == 4
    import time

    time.sleep(3.1)  # the console's scan ids carry seconds: be sure the second run is later
    second = fresh_simulator.run("scan", "image", f"{REG}/stuck:1.0", "--timeout", "2s")
    assert second.code == 4
    assert "Attached to running scan" in second.stderr, second.stderr


def test_console_text_never_reaches_the_log_raw(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "image", f"{REG}/hostile:1.0", "--fail-on", "low", *reports(tmp_path))
    assert run.code == 1, run.output
    for line in run.output.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "\x1b" not in line
    validate_reports(tmp_path)


def test_a_scan_complete_before_its_findings_is_not_gated_early(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/slow-match:1.0", "--fail-on", "high")
    assert run.code == 1, run.output
    assert "waiting for the console to finish matching" in run.stderr or "have not landed yet" in run.stderr


def test_criteria_from_flags_and_variables_gate_and_every_output_agrees(simulator: Simulator,
                                                                         tmp_path: Path) -> None:
    at_limit = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--max-critical", "3")
    assert at_limit.code == 0, at_limit.output  # 3 criticals, limit 3: passes; the default threshold is off
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--max-critical", "2", "--fail-on-kev",
                        *reports(tmp_path))
    assert run.code == 1, run.output
    assert "3 critical finding(s) > limit 2 (--max-critical)" in run.stdout
    assert "Gate FAILED (--max-critical 2, --fail-on-kev)" in run.stdout
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    assert report["gate"]["criteria"] == ["--max-critical 2", "--fail-on-kev"]
    (target,) = report["targets"]
    rules = {r["rule"]: r for r in target["rules"]}
    assert rules["max-critical"] == {"rule": "max-critical", "limit": "2", "measured": 3, "tripped": True}
    failing = {f["rule_id"] for f in target["findings"] if f["disposition"] == "failing"}
    assert report["gate"]["failing"] == len(failing) >= 3
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    assert len([c for c in junit.iter("testcase") if c.find("failure") is not None]) == len(failing) + 1
    sarif = parsed["sarif"]
    assert isinstance(sarif, dict)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"} == failing
    env = {"CI_SCAN_FAIL_ON": "", "CI_SCAN_FAIL_ON_CRITICAL_COUNT": "3"}
    package_scanner = simulator.run("scan", "image", f"{REG}/app:1.4.2", env=env)
    assert package_scanner.code == 1 and "(--fail-on-critical-count)" in package_scanner.stdout
    off = simulator.run("scan", "image", f"{REG}/app:1.4.2", env={"CI_SCAN_FAIL_ON_CRITICAL_COUNT": "-1"})
    assert off.code == 1 and "(--fail-on critical)" in off.stdout  # off, so the default threshold applies
    bad = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--fail-on-score", "11")
    assert bad.code == 2
    assert_one_line_error(bad, "--fail-on-score must be at most 10")


def test_an_ignore_file_accepts_findings_and_a_bad_one_stops_before_the_scan(simulator: Simulator,
                                                                              tmp_path: Path) -> None:
    failing = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--json", str(tmp_path / "before.json"))
    assert failing.code == 1
    assert "To accept a finding, add an entry" in failing.stdout
    report = json.loads((tmp_path / "before.json").read_text())
    criticals = sorted({f["rule_id"] for f in report["targets"][0]["findings"] if f["disposition"] == "failing"})
    entries = "".join(f"  - id: {cve}\n    reason: accepted by the security team\n    expires: 2999-01-01\n"
                      for cve in criticals)
    (tmp_path / ".ci-scan-ignore.yml").write_text("ignore:\n" + entries)
    accepted = simulator.run("scan", "image", f"{REG}/app:1.4.2", *reports(tmp_path), cwd=tmp_path)
    assert accepted.code == 0, accepted.output
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    ignored = [f for f in report["targets"][0]["findings"] if f["disposition"] == "ignored"]
    assert sorted({f["rule_id"] for f in ignored}) == criticals
    sarif = parsed["sarif"]
    assert isinstance(sarif, dict)
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")
                  and r["suppressions"][0]["justification"].startswith("ignored: accepted by the security team")]
    assert len(suppressed) == len(ignored)
    (tmp_path / "bad.yml").write_text("ignore:\n  - id: CVE-1\n    reson: typo\n")
    bad = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--ignore-file", str(tmp_path / "bad.yml"))
    assert bad.code == 2
    assert_one_line_error(bad, "line 3: unknown key 'reson'")
    assert "Found " not in bad.stderr
