"""Secret and malware scans beside vulnerabilities, as a pipeline runs them: one verdict, one set of reports,
and never a secret's value in any output."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from tests.conftest import shared_path
from tests.e2e.conftest import Simulator

pytestmark = pytest.mark.e2e
REG = "registry.example.com/team"
SECRET_VALUES = ("AKIAIOSFODNN7EXAMPLE", "BEGIN OPENSSH PRIVATE KEY", "BEGIN RSA PRIVATE KEY", "ghp_")


def test_three_kinds_one_verdict_and_no_secret_value_anywhere(simulator: Simulator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--scan-type", "vulnerability,secret,malware",
                        "--fail-on", "none", "--max-secrets", "0", "--max-malware", "0",
                        "--json", str(out / "r.json"), "--junit", str(out / "r.xml"), "--sarif", str(out / "r.sarif"),
                        "--markdown", str(out / "r.md"), cwd=tmp_path)
    assert run.code == 1, run.output
    report = json.loads((out / "r.json").read_text())
    (target,) = report["targets"]
    kinds = {f["kind"] for f in target["findings"]}
    assert kinds == {"vulnerability", "secret", "malware"}
    failing = {f["kind"] for f in target["findings"] if f["disposition"] == "failing"}
    assert failing == {"secret", "malware"}, "only the per-kind limits were asked for"
    assert {r["rule"]: r["tripped"] for r in target["rules"]} == {"max-secrets": True, "max-malware": True}
    assert any(note.startswith("secret scan ") for note in target["notes"])
    xmlschema.XMLSchema(str(shared_path("schemas", "junit-10.xunit-plugin.xsd"))).validate(str(out / "r.xml"))
    names = [case.get("name", "") for case in ET.parse(out / "r.xml").getroot().iter("testcase")]
    assert any(name.startswith("index-aws_access_key_id /app/.env") for name in names), names
    rules = {rule["id"] for rule in json.loads((out / "r.sarif").read_text())["runs"][0]["tool"]["driver"]["rules"]}
    assert "index-aws_access_key_id" in rules
    for text in [run.output, *(p.read_text() for p in out.iterdir())]:
        assert not any(value in text for value in SECRET_VALUES), "a secret's matched value reached an output"


def test_a_clean_image_passes_every_kind_and_an_error_is_incomplete(simulator: Simulator, tmp_path: Path) -> None:
    clean = simulator.run("scan", "image", f"{REG}/clean:1.0", "--scan-type", "secret,malware", "--max-secrets", "0",
                          cwd=tmp_path)
    assert clean.code == 0, clean.output
    broken = simulator.run("scan", "image", f"{REG}/broken:1.0", "--scan-type", "secret", "--json", "b.json",
                           cwd=tmp_path)
    assert broken.code == 3, broken.output
    (target,) = json.loads((tmp_path / "b.json").read_text())["targets"]
    assert target["verdict"] == "incomplete" and target["error"]


def test_an_unknown_scan_type_is_a_usage_error(simulator: Simulator, tmp_path: Path) -> None:
    run = simulator.run("scan", "image", f"{REG}/app:1.4.2", "--scan-type", "vulnerability,compliance", cwd=tmp_path)
    assert run.code == 2 and "unknown --scan-type compliance" in run.stderr
