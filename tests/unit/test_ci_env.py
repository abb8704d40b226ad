"""Inside a CI system: which one, GitHub step outputs and annotations, log sections and timestamps."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from ci_scan.app import run
from ci_scan.ci_env import (
    MAX_ANNOTATIONS,
    CiSystem,
    detect,
    failing_annotations,
    github_output_text,
    step_outputs,
    timestamped,
)
from ci_scan.config import ImageScan, Settings
from ci_scan.dockerfile import parse as parse_dockerfile
from ci_scan.errors import ExitCode
from ci_scan.models import ImageRef, RunResult, Severity, TargetResult
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator
from tests.conftest import FakeTime
from tests.formats.helpers import decide, single, vulnerability
from tests.formats.helpers import image_target as target_of
from tests.github_output import parse_github_output

HOSTILE = "bad\n::add-mask::x\r%0A,: title"


@pytest.mark.parametrize(("environ", "name"), [
    ({"GITHUB_ACTIONS": "true", "CI": "true"}, "github"),
    ({"GITLAB_CI": "true", "CI": "true"}, "gitlab"),
    ({"JENKINS_URL": "https://jenkins.example.com/"}, "jenkins"),
    ({"TF_BUILD": "True"}, "azure"),
    ({"CI": "1"}, "ci"),
    ({"CI": "false"}, ""),
    ({}, ""),
])
def test_the_ci_system_is_told_by_its_variables(environ: dict[str, str], name: str) -> None:
    assert detect(environ).name == name


def test_sections_and_timestamps() -> None:
    assert CiSystem("github").section_start("t", 0) == "::group::t"
    assert CiSystem("github").section_end(0) == "::endgroup::"
    gitlab = CiSystem("gitlab")
    opening = "\x1b[0Ksection_start:1700000000:ci_scan_scan[collapsed=false]\r\x1b[0Kt"
    assert gitlab.section_start("t", 1700000000.5) == opening
    assert gitlab.section_end(1700000001) == "\x1b[0Ksection_end:1700000001:ci_scan_scan\r\x1b[0K"
    assert CiSystem("jenkins").section_start("t", 0) == ""
    assert timestamped("Scan started", 3661.9) == "01:01:01 Scan started"


def test_outputs_survive_the_round_trip_through_github_output() -> None:
    image = target_of("registry.example.com/team/app:1.0", "sha256:" + "a" * 64)
    result = single(TargetResult(target=image, scan_id="scan-1", findings=(
        vulnerability("CVE-1", Severity.CRITICAL, "openssl:3.0.2"),
        vulnerability("CVE-2", Severity.LOW, "zlib:1.2"),
    )))
    outputs = step_outputs(decide(result, "critical"), ExitCode.GATE_FAILED, [("sarif", "out/scan.sarif")])
    assert outputs["verdict"] == "failed" and outputs["exit-code"] == "1" and outputs["failing"] == "1"
    assert (outputs["critical"], outputs["low"], outputs["high"]) == ("1", "1", "0")
    assert outputs["scan-ids"] == "scan-1" and outputs["digests"] == "" and outputs["sarif"] == "out/scan.sarif"
    passed = step_outputs(decide(result, "none"), ExitCode.PASSED, [])
    assert passed["digests"] == f"registry.example.com/team/app@sha256:{'a' * 64}"
    many = {**outputs, "digests": "one@sha256:1\ntwo@sha256:2", "odd": "a=b"}
    assert parse_github_output(github_output_text(many)) == many


def test_a_run_with_no_verdict_has_outputs_too() -> None:
    ended = decide(RunResult(targets=(), error="the console is down"))
    assert step_outputs(ended, ExitCode.SCAN_INCOMPLETE, [])["verdict"] == "incomplete"
    assert step_outputs(None, ExitCode.USAGE, [])["verdict"] == "error"
    assert step_outputs(None, ExitCode.TIMED_OUT, [])["exit-code"] == "4"


def test_annotations_are_one_line_each_point_at_the_dockerfile_and_are_capped() -> None:
    findings = tuple(
        vulnerability(f"CVE-2024-{i:04d}", Severity.CRITICAL, f"{HOSTILE}:{i}", cve_type="base" if i % 2 else "java",
                      result_id=f"r{i}")
        for i in range(MAX_ANNOTATIONS + 3)
    )
    image = target_of("registry.example.com/team/app:1.0")
    decision = decide(single(TargetResult(target=image, scan_id="scan-1", findings=findings)), "critical")
    dockerfile = parse_dockerfile("# app\nFROM debian:12\nCOPY app /app\n", "docker/Dockerfile")
    lines = failing_annotations(decision, dockerfile)
    assert len(lines) == MAX_ANNOTATIONS + 1
    for line in lines[:-1]:
        assert line.startswith("::error file=docker/Dockerfile,line=") and "\n" not in line and "\r" not in line
        assert "%0A::add-mask::x%0D%250A" in line  # the console's text, escaped as the runner expects
    lines_by_rule = {line.split("title=", 1)[1].split("%20", 1)[0][:13]: line for line in lines[:-1]}
    assert "line=2," in lines_by_rule["CVE-2024-0001"] and "line=1," in lines_by_rule["CVE-2024-0002"]
    assert lines[-1] == "::warning::3 more findings fail the gate: the reports list them"
    title = lines[0].split("title=", 1)[1].split("::", 1)[0]
    assert "," not in title and ":" not in title, "a property's commas and colons are escaped"
    assert all("file=" not in line for line in failing_annotations(decision, None))


def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image: str, **environ: str) -> tuple[ExitCode, str, str]:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "TF_BUILD", "CI", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = Settings.build(console_url="https://console.test", api_token=ADMIN_TOKEN,
                              request=ImageScan((ImageRef.parse(image),)),
                              reports={"sarif": str(tmp_path / "scan.sarif"), "json": str(tmp_path / "scan.json")})
    stdout, stderr, time = io.StringIO(), io.StringIO(), FakeTime()
    code = run(settings, transport=httpx.WSGITransport(app=ConsoleSimulator()), stdout=stdout, stderr=stderr,
               clock=time.clock, sleep=time.sleep, wall_clock=lambda: 1_700_000_000.0)
    return code, stdout.getvalue(), stderr.getvalue()


def test_in_github_actions_the_run_writes_outputs_annotations_and_a_group(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "github_output"
    code, stdout, stderr = gate(tmp_path, monkeypatch, "registry.example.com/team/app:1.4.2", GITHUB_ACTIONS="true",
                                GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    assert code == ExitCode.GATE_FAILED
    outputs = parse_github_output(output.read_text())
    assert outputs["verdict"] == "failed" and outputs["exit-code"] == "1"
    assert outputs["critical"] == "3" and outputs["failing"] == "3" and outputs["scan-ids"]
    assert outputs["sarif"] == str(tmp_path / "scan.sarif") and outputs["json"] == str(tmp_path / "scan.json")
    errors = [line for line in stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 3 and all("title=CVE-" in line for line in errors)
    lines = stderr.splitlines()
    assert lines[0] == "::group::ci-scan: scanning" and "::endgroup::" in lines
    assert lines[1].startswith("22:13:20 "), "progress lines carry the time in CI"
    assert lines.index("::endgroup::") < next(i for i, line in enumerate(lines) if "Report written" in line)


def test_outputs_say_incomplete_when_the_console_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "github_output"
    code, stdout, _ = gate(tmp_path, monkeypatch, "registry.example.com/team/no-such-image:1.0",
                           GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output))
    assert code == ExitCode.SCAN_INCOMPLETE
    outputs = parse_github_output(output.read_text())
    assert outputs["verdict"] == "incomplete" and outputs["exit-code"] == "3" and outputs["failing"] == "0"
    assert "::error" not in stdout


def test_outside_ci_nothing_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, stdout, stderr = gate(tmp_path, monkeypatch, "registry.example.com/team/app:1.4.2")
    assert code == ExitCode.GATE_FAILED
    assert "::" not in stdout + stderr and not stderr.startswith(("0", "1", "2"))


def test_annotations_never_mix_into_a_json_report_on_standard_output(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("GITLAB_CI", "JENKINS_URL", "TF_BUILD", "CI", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    settings = Settings.build(console_url="https://console.test", api_token=ADMIN_TOKEN,
                              request=ImageScan((ImageRef.parse("registry.example.com/team/app:1.4.2"),)),
                              reports={"json": "-"})
    time = FakeTime()
    code = run(settings, transport=httpx.WSGITransport(app=ConsoleSimulator()), clock=time.clock, sleep=time.sleep)
    assert code == ExitCode.GATE_FAILED
    captured = capsys.readouterr()
    assert json.loads(captured.out)["gate"]["verdict"] == "failed"
    assert "::error " in captured.err, "the annotations go beside the summary instead"
