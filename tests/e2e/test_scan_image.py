"""Each documented exit code, the reports and the token's absence, as a pipeline would see them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from ci_scan.formats.json import report_schema
from ci_scan.simulator import ADMIN_TOKEN, READONLY_TOKEN, STANDARD_TOKEN, default_dataset
from tests.conftest import shared_path
from tests.e2e.conftest import Run, Simulator, free_port

pytestmark = pytest.mark.e2e
REG = "registry.example.com/team"


def reports(tmp_path: Path) -> list[str]:
    return ["--junit", str(tmp_path / "out" / "junit.xml"), "--sarif", str(tmp_path / "out" / "scan.sarif"),
            "--json", str(tmp_path / "out" / "scan.json")]


def assert_one_line_error(run: Run, *needles: str) -> None:
    errors = [line for line in run.stderr.splitlines() if line.startswith("ci-scan: error:")]
    assert len(errors) == 1, run.stderr
    assert "Traceback" not in run.output
    for needle in needles:
        assert needle in errors[0], errors[0]


def assert_no_token(run: Run, tmp_path: Path) -> None:
    for token in (ADMIN_TOKEN, STANDARD_TOKEN, READONLY_TOKEN):
        assert token not in run.output
        for report in tmp_path.rglob("*"):
            if report.is_file():
                assert token not in report.read_text(errors="replace"), report


def validate_reports(tmp_path: Path) -> dict[str, object]:
    out = tmp_path / "out"
    xmlschema.XMLSchema(str(shared_path("schemas", "junit-10.xunit-plugin.xsd"))).validate(str(out / "junit.xml"))
    sarif = json.loads((out / "scan.sarif").read_text())
    schema = json.loads(shared_path("schemas", "sarif-schema-2.1.0.oasis.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    report: dict[str, object] = json.loads((out / "scan.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)  # the schema the package ships
    return {"sarif": sarif, "json": report, "junit": ET.parse(out / "junit.xml").getroot()}


def test_passing_image_exits_0_with_valid_reports(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "image", f"{REG}/app:1.4.1", "--fail-on", "high", *reports(tmp_path))
    assert run.code == 0, run.output
    assert "Gate PASSED" in run.stdout
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    assert report["gate"]["passed"] is True and report["gate"]["exit_code"] == 0
    assert report["counts"]["critical"] == 0 and report["counts"]["masked"] >= 2
    (target,) = report["targets"]
    masked = [f for f in target["findings"] if f["masked"]]
    assert masked and all(f["disposition"] == "masked" for f in masked)
    assert target["target"]["digest"].startswith("sha256:")
    assert_no_token(run, tmp_path)


def test_failing_image_exits_1_and_still_writes_reports(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", *reports(tmp_path))
    assert run.code == 1, run.output
    assert "Gate FAILED" in run.stdout and "CRITICAL" in run.stdout
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    assert report["gate"]["verdict"] == "failed" and report["gate"]["failing"] == report["counts"]["critical"]
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    failures = [c for c in junit.iter("testcase") if c.find("failure") is not None]
    assert len(failures) == report["counts"]["critical"] + 1  # plus the policy-gate case
    sarif = parsed["sarif"]
    assert isinstance(sarif, dict)
    assert len(sarif["runs"][0]["results"]) == len(report["targets"][0]["findings"])
    assert_no_token(run, tmp_path)


def test_environment_variables_configure_everything(simulator: Simulator, tmp_path: Path) -> None:
    env = {"CI_SCAN_IMAGE": f"{REG}/app:1.4.1", "CI_SCAN_FAIL_ON": "medium",
           "CI_SCAN_JSON": str(tmp_path / "env.json"), "CI_SCAN_TIMEOUT": "1m"}
    run = simulator.run("scan", "image", env=env)
    assert run.code == 1, run.output
    assert json.loads((tmp_path / "env.json").read_text())["gate"]["fail_on"] == "medium"
    several = simulator.run("scan", "image", env={**env, "CI_SCAN_IMAGE": f"{REG}/app:1.4.1\n{REG}/clean:1.0"})
    assert several.code == 1, several.output
    assert len(json.loads((tmp_path / "env.json").read_text())["targets"]) == 2


def test_all_20000_findings_are_fetched_in_pages(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "image", f"{REG}/big:1.0", "--fail-on", "none", "--json", str(tmp_path / "big.json"))
    assert run.code == 0, run.output
    report = json.loads((tmp_path / "big.json").read_text())
    findings = report["targets"][0]["findings"]
    assert len(findings) == 20000
    assert len({f["fingerprint"] for f in findings}) == 20000
    assert f"Fetched 20000 findings of {REG}/big:1.0 in 21 page(s)" in run.stderr


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["scan", "image", f"{REG}/app:1.4.2", "--fail-on", "severe"], {}, "--fail-on"),
        (["scan", "image", "https://registry.example.com/app"], {}, "looks like a URL"),
        (["scan", "image", f"{REG}/app:1.4.2", "--timeout", "soon"], {}, "invalid duration"),
        (["scan", "image", f"{REG}/app:1.4.2"], {"DEEPFENCE_API_TOKEN": ""}, "no API token"),
        (["scan", "image", f"{REG}/app:1.4.2", "--registry", "nope"], {}, "--registry"),
        (["scan", "image"], {}, "IMAGE_REF"),
        (["scan", "image", f"{REG}/app:1.4.2", "--json", __file__ + "/scan.json"], {}, "is a file"),
        (["scan", "image", f"{REG}/app:1.4.2", "--json", "r.json", "--sarif", "./x/../r.json"], {}, "--sarif"),
        (["scan", "image", f"{REG}/app:1.4.2", "app:Bad\ntag"], {}, "control character"),
    ],
)
def test_usage_errors_exit_2_with_one_line(simulator: Simulator, args: list[str], env: dict[str, str],
                                          needle: str) -> None:
    run = simulator.run(*args, env=env)
    assert run.code == 2, run.output
    assert_one_line_error(run, needle)
    assert ADMIN_TOKEN not in run.output


@pytest.mark.parametrize(
    ("image", "token", "needle"),
    [
        (f"{REG}/app:9.9.9", ADMIN_TOKEN, "pass --sync"),
        (f"{REG}/nothere:1.0", ADMIN_TOKEN, "no repository"),
        ("other.example.org/team/app:1.0", ADMIN_TOKEN, "no registry account"),
        (f"{REG}/app:1.4.2", "YWNtZTowMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDA", "refused the API token"),
        (f"{REG}/app:1.4.2", "not a token!", "refused the API token"),
        (f"{REG}/app:1.4.2", READONLY_TOKEN, "HTTP 403"),
    ],
)
def test_runs_that_cannot_start_exit_3_with_reports_that_say_why(simulator: Simulator, tmp_path: Path, image: str,
                                                                  token: str, needle: str) -> None:
    run = simulator.run("scan", "image", image, *reports(tmp_path), token=token)
    assert run.code == 3, run.output
    assert_one_line_error(run, needle)
    report = validate_reports(tmp_path)["json"]
    assert isinstance(report, dict)
    assert report["targets"] == [] and needle in report["error"] and report["gate"]["exit_code"] == 3
    assert token not in run.output
    for written in (tmp_path / "out").iterdir():
        assert token not in written.read_text(), written


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        (f"{REG}/broken:1.0", "ended ERROR"),
        (f"{REG}/cancelled:1.0", "ended CANCELLED"),
        (f"{REG}/deleted:1.0", "ended DELETE_PENDING"),
        (f"{REG}/system:1.0", "started no scan"),
        (f"{REG}/contradictory:1.0", "counted 2 findings"),
    ],
)
def test_scans_that_cannot_complete_exit_3_and_the_reports_say_why(simulator: Simulator, tmp_path: Path,
                                                                    image: str, needle: str) -> None:
    run = simulator.run("scan", "image", image, *reports(tmp_path))
    assert run.code == 3, run.output
    assert_one_line_error(run, image, needle)
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    (target,) = report["targets"]
    assert needle in target["error"] and target["findings"] == []
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    assert [e.get("message", "") for e in junit.iter("error")] and needle in ET.tostring(junit, encoding="unicode")
    assert_no_token(run, tmp_path)


def test_a_report_that_cannot_be_written_after_the_verdict_keeps_it(simulator: Simulator, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--json", "/proc/forbidden/scan.json",
                        "--junit", str(blocked / "junit.xml"))
    assert run.code == 1, run.output
    assert "Gate FAILED" in run.stdout
    assert_one_line_error(run, "/proc/forbidden/scan.json")
    assert (blocked / "junit.xml").exists()
    assert f"Report written: {blocked / 'junit.xml'}" in run.stderr
    clean = simulator.run("scan", "image", f"{REG}/clean:1.0", "--json", "/proc/forbidden/scan.json")
    assert clean.code == 3 and "Gate PASSED" in clean.stdout


def test_unreachable_console_exits_3(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", env={"DEEPFENCE_CONSOLE_URL": f"http://127.0.0.1:{free_port()}"})
    assert run.code == 3, run.output
    assert_one_line_error(run, "cannot reach the console")


def test_a_scan_that_never_finishes_exits_4(fresh_simulator: Simulator) -> None:
    """A simulator of its own: a scan another test left running would be joined, and never stopped."""
    run = fresh_simulator.run("scan", "image", f"{REG}/stuck:1.0", "--timeout", "2s", "--cancel-on-timeout")
    assert run.code == 4, run.output
    assert_one_line_error(run, "timed out after 2s")
    assert "Stopping scan" in run.stderr


def test_sync_makes_a_fresh_tag_visible(fresh_simulator: Simulator) -> None:
    before = fresh_simulator.run("scan", "image", f"{REG}/fresh:2.0")
    assert before.code == 3 and "pass --sync" in before.stderr
    run = fresh_simulator.run("scan", "image", f"{REG}/fresh:2.0", "--sync", "--fail-on", "none")
    assert run.code == 0, run.output
    assert "synced" in run.stderr


def test_sync_needs_an_admin_token(fresh_simulator: Simulator) -> None:
    run = fresh_simulator.run("scan", "image", f"{REG}/fresh:2.0", "--sync", token=STANDARD_TOKEN)
    assert run.code == 3, run.output
    assert "Warning: the console did not allow the API token's user to sync the registry" in run.stderr
    assert_one_line_error(run, "is not on the console")


def test_status_going_back_to_starting_is_tolerated(simulator: Simulator) -> None:
    run = simulator.run("scan", "image", f"{REG}/flaky:1.0")
    assert run.code == 0, run.output
    statuses = [line for line in run.stderr.splitlines() if line.startswith("Scan status")]
    assert [s.split()[2] for s in statuses][:4] == ["STARTING", "IN_PROGRESS", "STARTING", "IN_PROGRESS"]


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ("acme/app:2.0", 0),  # Docker Hub, namespace acme
        ("docker.io/acme/app:2.0", 0),
        ("quay.io/acme/tool:1.0", 0),
        (f"{REG}/app@" + default_dataset().image("team/app", "1.4.2").digest, 1),
        (f"{REG}/app:latest", 1),
    ],
)
def test_registry_types_tags_and_digests(simulator: Simulator, image: str, code: int) -> None:
    run = simulator.run("scan", "image", image)
    assert run.code == code, run.output
    assert "Found " in run.stderr


def test_help_and_version() -> None:
    from tests.e2e.conftest import Simulator as S

    run = S("http://127.0.0.1:1").run("--help")
    assert run.code == 0 and "Exit codes" in run.stdout
    version = S("http://127.0.0.1:1").run("--version")
    assert version.code == 0 and "ci-scan" in version.stdout


@pytest.mark.parametrize("case", ["unreachable", "missing image"])
def test_a_run_that_ends_before_any_target_still_writes_every_report(simulator: Simulator, tmp_path: Path,
                                                                     case: str) -> None:
    env = {"DEEPFENCE_CONSOLE_URL": f"http://127.0.0.1:{free_port()}"} if case == "unreachable" else {}
    image = f"{REG}/app:1.4.2" if case == "unreachable" else f"{REG}/no-such-image:1.0"
    summary = tmp_path / "step_summary.md"
    run = simulator.run("scan", "image", image, *reports(tmp_path), env={**env, "GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 3, run.output
    assert_one_line_error(run)
    error = next(line for line in run.stderr.splitlines() if line.startswith("ci-scan: error:"))
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    assert report["gate"]["verdict"] == "incomplete" and report["gate"]["exit_code"] == 3
    assert report["targets"] == [] and report["error"] == error.removeprefix("ci-scan: error: ")
    sarif = parsed["sarif"]
    assert isinstance(sarif, dict)
    (invocation,) = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == report["error"]
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    errors = list(junit.iter("error"))
    assert len(errors) == 1 and errors[0].get("message") == report["error"]
    assert "Gate INCOMPLETE" in summary.read_text(), "the job summary says why too"


def test_in_github_actions_the_summary_goes_to_the_job_summary(simulator: Simulator, tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("## An earlier step\n")
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--json", str(tmp_path / "r.json"),
                        env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert run.code == 1, run.output
    text = summary.read_text()
    assert text.startswith("## An earlier step\n")  # appended: other steps' summaries stay
    reason = json.loads((tmp_path / "r.json").read_text())["gate"]["reason"]
    assert "Gate FAILED (--fail-on critical)" in text and reason.split(";")[0] in text
    # A summary file that cannot be written is a warning, never a different verdict.
    broken = simulator.run("scan", "image", f"{REG}/app:1.4.2", env={"GITHUB_STEP_SUMMARY": str(tmp_path)})
    assert broken.code == 1 and "Warning: could not add the summary to the GitHub job summary" in broken.stderr


def test_the_dockerfile_in_the_checkout_anchors_the_sarif(simulator: Simulator, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("# the app\nFROM ubuntu:22.04 AS base\nRUN apt-get update\nFROM base\n",
                                         encoding="utf-8")
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--sarif", "out.sarif", cwd=tmp_path)
    assert run.code == 1, run.output
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    (sarif_run,) = sarif["runs"]
    assert sarif_run["properties"]["dockerfile"] == "Dockerfile"
    locations = [r["locations"][0]["physicalLocation"] for r in sarif_run["results"]]
    assert {p["artifactLocation"]["uri"] for p in locations} == {"Dockerfile"}
    # Packages of the operating system at FROM ubuntu (the base of the last stage), the others at line 1.
    assert {p["region"]["startLine"] for p in locations} == {1, 2}
    # Two images: the default Dockerfile is not theirs, so it is left alone...
    two = simulator.run("scan", "image", f"{REG}/app:1.4.2", f"{REG}/clean:1.0", "--sarif", "two.sarif",
                        cwd=tmp_path)
    assert two.code == 1, two.output
    assert "dockerfile" not in json.loads((tmp_path / "two.sarif").read_text())["runs"][0]["properties"]
    # ...and naming one for them is a usage error, before anything is scanned.
    named = simulator.run("scan", "image", f"{REG}/app:1.4.2", f"{REG}/clean:1.0", "--dockerfile", "Dockerfile",
                          "--sarif", "named.sarif", cwd=tmp_path)
    assert named.code == 2, named.output
    assert_one_line_error(named, "--dockerfile", "2 images are scanned")
    assert not (tmp_path / "named.sarif").exists()


def test_json_to_dev_stdout_is_standard_output_with_the_summary_beside_it(simulator: Simulator,
                                                                          tmp_path: Path) -> None:
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--json", "/dev/stdout", cwd=tmp_path)
    assert run.code == 1, run.output
    assert json.loads(run.stdout)["gate"]["verdict"] == "failed", "only the JSON on standard output"
    assert "Gate FAILED" in run.stderr


@pytest.mark.parametrize(("signal_name", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_cancelled_job_stops_the_scan_it_started_and_still_writes_its_reports(
        fresh_simulator: Simulator, tmp_path: Path, signal_name: str, code: int) -> None:
    import signal
    import subprocess
    import time

    from tests.e2e.conftest import ci_scan_command

    env = fresh_simulator.environment({"CI_SCAN_POLL_INTERVAL": "0.2s"})
    with subprocess.Popen([ci_scan_command(), "scan", "image", f"{REG}/stuck:1.0", "--json", "r.json",
                           "--junit", "r.xml"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        line = ""
        while " started for " not in line and time.monotonic() < deadline:
            line = process.stderr.readline()
        assert " started for " in line, line
        process.send_signal(getattr(signal, signal_name))
        assert process.wait(timeout=30) == code
        stderr = process.stderr.read()
    assert f"stopped by {signal_name}" in stderr and "asked to stop the scan(s) this run started" in stderr, stderr
    assert "Traceback" not in stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert f"stopped by {signal_name}" in report["error"]
    assert report["gate"]["exit_code"] == code, "the report says what the process exited with"
    assert (tmp_path / "r.xml").is_file()
