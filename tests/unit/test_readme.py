"""The README's pipeline snippets: each YAML block parses, and the reports they take are the ones ci-scan writes."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ci_scan.formats import report
from tests.conftest import ROOT

_BLOCK = re.compile(r"^( *)```yaml\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def yaml_blocks() -> list[Any]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = []
    for indent, body in _BLOCK.findall(text):
        dedented = "\n".join(line.removeprefix(indent) for line in body.splitlines())
        blocks.append(yaml.safe_load(dedented))
    return blocks


def test_every_yaml_block_parses() -> None:
    assert len(yaml_blocks()) >= 3  # the policy file, GitHub and GitLab


def test_the_gitlab_job_takes_each_report_ci_scan_writes() -> None:
    (job,) = [b["container-gate"] for b in yaml_blocks() if isinstance(b, dict) and "container-gate" in b]
    script = " ".join(job["script"])
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always", "reports must be kept when the gate fails"
    for kind, name in (("junit", "junit"), ("container_scanning", "gitlab_report"), ("cyclonedx", "sbom")):
        path = artifacts["reports"][kind]
        assert path == report(name).default_filename
        assert f"--{name.replace('_', '-')} {path}" in script


def test_the_github_steps_upload_the_sarif_even_when_the_gate_fails() -> None:
    (workflow,) = [b for b in yaml_blocks() if isinstance(b, dict) and "steps" in b]
    assert workflow["permissions"]["security-events"] == "write"
    upload = next(s for s in workflow["steps"] if "codeql-action/upload-sarif" in str(s.get("uses", "")))
    assert upload["if"].startswith("always()")
    scan = next(s for s in workflow["steps"] if "ci-scan scan image" in s.get("run", ""))
    assert f"--sarif {upload['with']['sarif_file']}" in scan["run"]
    assert "API_TOKEN" in str(scan["env"]) and "${{" not in scan["run"], "inputs go through env, never into run:"
