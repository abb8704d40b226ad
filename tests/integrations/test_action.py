"""The GitHub Action (`action.yml`): valid for GitHub, every input a real option passed only through `env:`,
and its steps run as a runner would run them against the simulator: install, scan, outputs, upload, exit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ci_scan import __version__, options
from ci_scan.simulator import ADMIN_TOKEN
from tests.conftest import ROOT, shared_path
from tests.e2e.conftest import Simulator, free_port, running_simulator
from tests.github_output import parse_github_output

pytestmark = pytest.mark.e2e
ACTION = ROOT / "action.yml"
EXTRA_INPUTS = {"image", "scan-registry", "upload-sarif"}
"""Inputs that are not options: the images (the command's arguments), a registry to scan, the upload."""
NOT_INPUTS = {"images_from", "node_type", "on_fail_exec", "duration", "type"}
"""Options the action does not offer: `image` takes the references themselves, and `watch` (a long-running
service, not a step) and `scan all` (`type`) have the others."""
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return loaded


def steps() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = action()["runs"]["steps"]
    return found


def test_the_action_is_valid_for_github() -> None:
    schema = json.loads(shared_path("schemas", "github-action.check-jsonschema-vendor.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert [e.message for e in validator.iter_errors(action())] == []
    assert action()["runs"]["using"] == "composite"


def test_every_input_is_an_option_and_every_option_an_input() -> None:
    inputs = action()["inputs"]
    by_input = {o.field.replace("_", "-"): o for o in options.EVERY_OPTION if o.field not in NOT_INPUTS}
    assert set(inputs) == set(by_input) | EXTRA_INPUTS
    assert all(spec.get("default", "") == "" for name, spec in inputs.items() if name != "upload-sarif"), \
        "empty inputs leave the command's defaults and the policy file in charge"
    (scan,) = [s for s in steps() if s.get("id") == "scan"]
    env = scan["env"]
    for name, option in by_input.items():
        variable = option.envvars[0].removeprefix("CI_SCAN_")
        assert env[f"ACTION_INPUT_{variable}"] == f"${{{{ inputs.{name} }}}}", name
    assert env["ACTION_INPUT_IMAGE"] == "${{ inputs.image }}"
    assert not [name for name in env if name.startswith("CI_SCAN_")], "an empty input must not hide the job's"


def test_no_input_is_spliced_into_a_script() -> None:
    for step in steps():
        assert "${{" not in step.get("run", ""), f"step {step.get('name')!r} puts an expression in its script"


# A runner, as far as this action needs one.


@dataclass
class Runner:
    """Runs the action's steps in order: `run:` steps with bash as GitHub does, `uses:` steps recorded."""

    workspace: Path
    temp: Path
    home: Path
    inputs: dict[str, str]
    env: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    used: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    failed: bool = False
    exit_codes: list[int] = field(default_factory=list)

    def value(self, expression: str) -> str:
        if expression.startswith("inputs."):
            name = expression.removeprefix("inputs.")
            spec = action()["inputs"][name]
            return self.inputs.get(name, str(spec.get("default", "")))
        if expression == "runner.temp":
            return str(self.temp)
        if expression == "runner.os":
            return "Linux"
        match = re.fullmatch(r"steps\.([\w-]+)\.(outputs\.([\w-]+)|outcome)", expression)
        if match:
            if match.group(2) == "outcome":
                return self.outcomes.get(match.group(1), "")
            return self.outputs.get(match.group(1), {}).get(match.group(3) or "", "")
        raise AssertionError(f"the test runner does not know {expression!r}")

    def expand(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, text: str) -> bool:
        """GitHub's `if:` as this action uses it: terms joined by &&, each always(), == or !=."""
        result = not self.failed
        for term in (t.strip() for t in text.split("&&")):
            if term == "always()":
                result = True
                continue
            left, operator, right = re.fullmatch(r"(\S+) (==|!=) '(.*)'", term).groups()  # type: ignore[union-attr]
            holds = (self.value(left) == right) == (operator == "==")
            result = result and holds
        return result

    def run(self) -> None:
        for step in steps():
            if "if" in step and not self.condition(step["if"]):
                continue
            if "if" not in step and self.failed:
                continue
            if "uses" in step:
                self.used.append((step["uses"], {k: self.expand(str(v)) for k, v in step.get("with", {}).items()}))
                continue
            self.run_script(step)

    def run_script(self, step: dict[str, Any]) -> None:
        output = self.temp / f"output-{len(self.exit_codes)}"
        output.write_text("")
        env = {**self.env, **{k: self.expand(str(v)) for k, v in step.get("env", {}).items()},
               "GITHUB_OUTPUT": str(output)}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                              cwd=self.workspace, capture_output=True, text=True, timeout=600, check=False)
        self.log += [done.stdout, done.stderr]
        self.exit_codes.append(done.returncode)
        if "id" in step:
            self.outputs[step["id"]] = parse_github_output(output.read_text())
            self.outcomes[step["id"]] = "success" if done.returncode == 0 else "failure"
        if done.returncode != 0:
            self.failed = True

    @property
    def text(self) -> str:
        return "".join(self.log)


@pytest.fixture(scope="module")
def runner_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One runner temp (with the venv the first run installs) and home (pip's cache) for the module."""
    return tmp_path_factory.mktemp("runner_temp"), tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def console() -> Iterator[Simulator]:
    with running_simulator() as sim:
        yield sim


def gate(tmp_path: Path, runner_dirs: tuple[Path, Path], console_url: str, inputs: dict[str, str],
         job_env: dict[str, str] | None = None) -> Runner:
    temp, home = runner_dirs
    workspace = tmp_path / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home), "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(ROOT), "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
        "DEEPFENCE_CONSOLE_URL": console_url, "CI_SCAN_POLL_INTERVAL": "0.1s", "CI_SCAN_SETTLE_TIME": "0.3s",
        "CI_SCAN_SIMULATOR_POLL_FLOOR": "0.05",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.endswith(("_CA_BUNDLE", "SSL_CERT_FILE"))},
        **(job_env or {}),
    }
    runner = Runner(workspace, temp, home, {"api-token": ADMIN_TOKEN, **inputs}, env)
    runner.run()
    return runner


def test_a_failing_image_fails_the_step_after_the_reports_and_the_upload(
        tmp_path: Path, runner_dirs: tuple[Path, Path], console: Simulator) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "Dockerfile").write_text("FROM ubuntu:22.04\n")
    runner = gate(tmp_path, runner_dirs, console.url, {"image": "registry.example.com/team/app:1.4.2",
                                                       "upload-sarif": "true", "json": "reports/ci-scan.json"})
    assert f"::add-mask::{ADMIN_TOKEN}" in runner.log[0], "the token is masked before anything runs"
    assert f"ci-scan, version {__version__}" in runner.text
    outputs = runner.outputs["scan"]
    assert outputs["verdict"] == "failed" and outputs["exit-code"] == "1" and outputs["critical"] == "3"
    assert outputs["sarif"] == "ci-scan.sarif" and outputs["json"] == "reports/ci-scan.json"
    assert (runner.workspace / "reports" / "ci-scan.json").is_file()
    uploads = [w for uses, w in runner.used if uses.startswith("github/codeql-action/upload-sarif")]
    assert uploads == [{"sarif_file": "ci-scan.sarif"}] and (runner.workspace / "ci-scan.sarif").is_file()
    assert runner.exit_codes[-1] == 1, "the last step fails with ci-scan's exit code"
    assert "::error file=Dockerfile,line=1,title=CVE-" in runner.text, "annotations on the Dockerfile"
    assert "Gate FAILED" in (tmp_path / "step_summary.md").read_text()
    assert ADMIN_TOKEN not in "".join(runner.log[1:])


def test_a_passing_image_passes_and_names_its_digest(tmp_path: Path, runner_dirs: tuple[Path, Path],
                                                    console: Simulator) -> None:
    runner = gate(tmp_path, runner_dirs, console.url, {"image": "registry.example.com/team/app:1.4.1"},
                  job_env={"CI_SCAN_FAIL_ON": "high"})  # the job's variable stands where the input is empty
    outputs = runner.outputs["scan"]
    assert outputs["verdict"] == "passed" and outputs["exit-code"] == "0", runner.text
    assert outputs["digests"].startswith("registry.example.com/team/app@sha256:")
    assert runner.exit_codes[-1] == 0 and not runner.failed
    assert not [uses for uses, _ in runner.used if "upload-sarif" in uses], "no upload unless asked"


def test_a_registry_name_is_never_read_as_an_option(tmp_path: Path, runner_dirs: tuple[Path, Path],
                                                     console: Simulator) -> None:
    runner = gate(tmp_path, runner_dirs, console.url, {"scan-registry": "--help"})
    assert runner.outputs["scan"]["exit-code"] == "3", runner.text  # no such registry: not help and exit 0
    assert runner.exit_codes[-1] == 3


def test_a_usage_error_is_exit_2_with_the_verdict_error(tmp_path: Path, runner_dirs: tuple[Path, Path],
                                                        console: Simulator) -> None:
    runner = gate(tmp_path, runner_dirs, console.url, {"image": "registry.example.com/team/app:1.4.1",
                                                       "fail-on": "bogus"})
    outputs = runner.outputs["scan"]
    assert (outputs["verdict"], outputs["exit-code"]) == ("error", "2") and runner.exit_codes[-1] == 2


def test_a_console_that_is_down_is_exit_3_not_findings(tmp_path: Path, runner_dirs: tuple[Path, Path]) -> None:
    runner = gate(tmp_path, runner_dirs, f"http://127.0.0.1:{free_port()}",
                  {"image": "registry.example.com/team/app:1.4.2", "timeout": "20s"})
    outputs = runner.outputs["scan"]
    assert outputs["verdict"] == "incomplete" and outputs["exit-code"] == "3"
    assert runner.exit_codes[-1] == 3
