"""The whole policy from a user's repository: one run mixing every disposition, all outputs agreeing.

The run scans the demo image with a `.ci-scan.yml` (criteria, --ignore-unfixed, a VEX document, a
baseline report), an ignore file with a live and an expired entry, and one criterion from a flag.
Then the exit code, the summary, JSON, JUnit and SARIF must tell the same story for every finding.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import shared_path
from tests.e2e.conftest import Simulator
from tests.e2e.test_scan_image import reports, validate_reports

pytestmark = pytest.mark.e2e
IMAGE = "registry.example.com/team/app:1.4.2"
PAST = (dt.date.today() - dt.timedelta(days=3)).isoformat()
FUTURE = (dt.date.today() + dt.timedelta(days=200)).isoformat()


def _first_scan(simulator: Simulator, tmp_path: Path) -> dict[str, Any]:
    """A plain run's JSON report: what the image has, to build the policy from."""
    first = tmp_path / "first"
    run = simulator.run("scan", "image", IMAGE, "--fail-on", "none", "--json", str(first / "scan.json"))
    assert run.code == 0, run.output
    report: dict[str, Any] = json.loads((first / "scan.json").read_text())
    return report


def _pick(findings: list[dict[str, Any]], severity: str, *, fixed: bool | None = None,
          avoid: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    for finding in findings:
        if finding["severity"] != severity or finding["masked"] or finding in avoid:
            continue
        if fixed is None or bool(finding["fixed_in"]) == fixed:
            return finding
    raise AssertionError(f"no {severity} finding (fixed={fixed}) to build the test on")


def _vex(finding: dict[str, Any], image: str) -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/app-1",
        "author": "Security Team",
        "timestamp": "2026-11-01T10:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": finding["rule_id"]},
            "products": [{"@id": image}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        }, {
            "vulnerability": {"name": "CVE-1999-0001"},
            "products": [{"@id": image}],
            "status": "affected",
            "action_statement": "upgrade",
        }],
    }


def _baseline_report(first: dict[str, Any], keep: list[dict[str, Any]]) -> dict[str, Any]:
    """The first report as an earlier run with fewer findings would have written it."""
    earlier = json.loads(json.dumps(first))
    target = earlier["targets"][0]
    # An earlier version of the package: the baseline matches by package name, not version.
    target["findings"] = [{**f, "package_version": "0.0.1", "component": f"{f['package_name']}:0.0.1"}
                          for f in target["findings"] if f in keep]
    return dict(earlier)


def test_every_disposition_in_one_run_and_every_output_agrees(simulator: Simulator, tmp_path: Path) -> None:
    first = _first_scan(simulator, tmp_path)
    findings = first["targets"][0]["findings"]
    vexed = _pick(findings, "critical")
    ignored = _pick(findings, "critical", avoid=(vexed,))
    existing = _pick(findings, "critical", avoid=(vexed, ignored))
    unfixed = _pick(findings, "high", fixed=False)
    expired_failing = _pick(findings, "high", fixed=True)
    expired_passing = _pick(findings, "low", fixed=True)

    repo = tmp_path / "repo"
    (repo / "security").mkdir(parents=True)
    vex = _vex(vexed, IMAGE)
    jsonschema.Draft202012Validator(json.loads(shared_path("schemas", "openvex-0.2.0.schema.json").read_text())
                                    ).validate(vex)
    (repo / "security" / "app.openvex.json").write_text(json.dumps(vex))
    (repo / "baseline.json").write_text(json.dumps(_baseline_report(first, [existing])))
    (repo / ".ci-scan.yml").write_text(
        "fail-on: high\n"
        "ignore-unfixed: true\n"
        "vex: security/app.openvex.json\n"
        "baseline-report: baseline.json\n"
    )
    (repo / ".ci-scan-ignore.yml").write_text(
        "ignore:\n"
        f"  - id: {ignored['rule_id']}\n"
        f"    package: {ignored['package_name']}\n"
        "    reason: reviewed, not reachable\n"
        f"    expires: {FUTURE}\n"
        f"  - id: {expired_failing['rule_id']}\n"
        "    reason: accepted last quarter\n"
        f"    expires: {PAST}\n"
        f"  - id: {expired_passing['rule_id']}\n"
        "    reason: accepted last quarter\n"
        f"    expires: {PAST}\n"
    )
    run = simulator.run("scan", "image", IMAGE, "--max-total", "500", *reports(tmp_path), cwd=repo)
    assert run.code == 1, run.output
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    (target,) = report["targets"]
    by_id = {(f["rule_id"], f["component"], f["location"]): f for f in target["findings"]}

    def disposition(finding: dict[str, Any]) -> str:
        return str(by_id[(finding["rule_id"], finding["component"], finding["location"])]["disposition"])

    assert disposition(vexed) == "vex"
    assert disposition(ignored) == "ignored"
    assert disposition(existing) == "existing"
    assert disposition(unfixed) == "unfixed"
    assert disposition(expired_failing) == "failing"
    assert disposition(expired_passing) in ("expired", "failing")  # another finding may share its id
    tally = Counter(f["disposition"] for f in target["findings"])
    assert {"masked", "vex", "ignored", "existing", "unfixed", "failing", "passing"} <= set(tally), tally
    assert "expired" in tally or disposition(expired_passing) == "failing"
    assert all(f["severity"] in ("critical", "high") for f in target["findings"] if f["disposition"] == "failing")

    # Where each criterion came from.
    assert report["gate"]["sources"] == [
        {"criterion": "--fail-on high", "source": ".ci-scan.yml line 1"},
        {"criterion": "--max-total 500", "source": "--max-total"},
    ]
    assert report["gate"]["narrowing"] == [{"option": "--ignore-unfixed", "source": ".ci-scan.yml line 2"}]
    assert report["gate"]["baseline"] == "report baseline.json"
    assert [s["vulnerability"] for s in report["gate"]["vex"]] == [vexed["rule_id"]]
    assert report["gate"]["exit_code"] == 1 and report["gate"]["verdict"] == "failed"

    # The summary: the same verdict and reason, the policy with its sources, the statement that applied.
    assert f"Gate FAILED (--fail-on high, --max-total 500): {report['gate']['reason']}" in run.stdout
    assert "Policy: --fail-on high (.ci-scan.yml line 1), --max-total 500 (--max-total); narrowed by " \
           "--ignore-unfixed (.ci-scan.yml line 2)" in run.stdout
    assert f"VEX: {vexed['rule_id']} not_affected (vulnerable_code_not_in_execute_path) by app.openvex.json " \
           "statement 1: suppressed" in run.stdout
    assert "expired on" in run.output and "matched no finding" not in run.output

    failing = {key for key, f in by_id.items() if f["disposition"] == "failing"}
    assert len(failing) == report["gate"]["failing"]
    _sarif_agrees(parsed["sarif"], target["findings"])
    _junit_agrees(parsed["junit"], target["findings"])
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert str(properties["gate.policy"]).startswith("--fail-on high (.ci-scan.yml line 1), --max-total 500")
    assert run.code == report["gate"]["exit_code"] == int(properties["gate.verdict"] == "failed")


def _sarif_agrees(sarif: Any, findings: list[dict[str, Any]]) -> None:
    results = [r for run in sarif["runs"] for r in run["results"]]
    by_fingerprint: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_fingerprint.setdefault(result["partialFingerprints"]["primaryLocationLineHash"], []).append(result)
    for finding in findings:
        (result,) = by_fingerprint[finding["fingerprint"]]
        assert result["properties"]["disposition"] == finding["disposition"]
        assert (result["level"] == "error") == (finding["disposition"] == "failing")
        suppressed = finding["disposition"] in ("masked", "vex", "ignored")
        assert bool(result.get("suppressions")) == suppressed, finding
        assert result["baselineState"] == ("unchanged" if finding["disposition"] == "existing" else "new")


def _junit_agrees(junit: Any, findings: list[dict[str, Any]],
                  expect: tuple[str, ...] = ("suppressed by VEX", "ignored: reviewed, not reachable",
                                             "already in the baseline (report baseline.json)")) -> None:
    cases = [c for c in junit.iter("testcase") if not str(c.get("name")).startswith("policy gate")]
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == sum(1 for f in findings if f["disposition"] == "failing")
    skipped = [c for c in cases if c.find("skipped") is not None]
    suppressed = ("masked", "vex", "ignored", "existing", "unfixed")
    assert len(skipped) == sum(1 for f in findings if f["disposition"] in suppressed)
    passed = [c for c in cases if not list(c)]
    assert len(passed) == sum(1 for f in findings if f["disposition"] in ("passing", "expired"))
    assert len(failures) + len(skipped) + len(passed) == len(findings)
    messages = " ".join(ET.tostring(c, encoding="unicode") for c in skipped)
    assert all(text in messages for text in expect), expect


def test_a_flag_overrides_the_policy_file_and_the_baseline_passes_what_it_had(simulator: Simulator,
                                                                               tmp_path: Path) -> None:
    first = _first_scan(simulator, tmp_path)
    scan_id = first["targets"][0]["scan"]["id"]
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".ci-scan.yml").write_text("fail-on: high\nscopes:\n  - images: team/*\n    max-medium: 0\n")
    strict = simulator.run("scan", "image", IMAGE, "--json", str(tmp_path / "strict.json"), cwd=repo)
    assert strict.code == 1, strict.output
    scoped = json.loads((tmp_path / "strict.json").read_text())["targets"][0]
    assert scoped["policy"]["scope"] == ".ci-scan.yml line 3 (images team/*)"
    assert {"criterion": "--max-medium 0", "source": ".ci-scan.yml line 4"} in scoped["policy"]["sources"]
    # Everything the earlier scan had is existing: the same image passes against its own baseline.
    for option in (["--baseline-scan-id", scan_id], ["--baseline-image", IMAGE]):
        run = simulator.run("scan", "image", IMAGE, *option, *reports(tmp_path), cwd=repo)
        assert run.code == 0, run.output
        parsed = validate_reports(tmp_path)
        document = parsed["json"]
        assert isinstance(document, dict)
        findings = document["targets"][0]["findings"]
        assert {f["disposition"] for f in findings} == {"existing", "masked"}
        assert document["gate"]["baseline"].startswith(("scan ", "the latest scan of"))
        assert "already in the baseline" in run.stdout and "Gate PASSED" in run.stdout
        _sarif_agrees(parsed["sarif"], findings)
        _junit_agrees(parsed["junit"], findings, expect=("already in the baseline (",))
    # A flag wins over the file, for the scope's key too.
    loose = simulator.run("scan", "image", IMAGE, "--fail-on", "none", "--max-medium", "100",
                          "--json", str(tmp_path / "loose.json"), cwd=repo)
    assert loose.code == 0, loose.output
    overridden = json.loads((tmp_path / "loose.json").read_text())["targets"][0]["policy"]
    assert overridden["sources"] == [{"criterion": "--fail-on none", "source": "--fail-on"},
                                     {"criterion": "--max-medium 100", "source": "--max-medium"}]
    assert f"  {IMAGE}: .ci-scan.yml line 3 (images team/*): --fail-on none (--fail-on), --max-medium 100 " \
           "(--max-medium)" in loose.stdout


def test_a_typo_in_the_policy_file_stops_the_run_before_any_scan(simulator: Simulator, tmp_path: Path) -> None:
    (tmp_path / ".ci-scan.yml").write_text("fail-on: high\nmax-critcal: 0\n")
    run = simulator.run("scan", "image", IMAGE, cwd=tmp_path)
    assert run.code == 2, run.output
    assert ".ci-scan.yml line 2: unknown key 'max-critcal' (did you mean 'max-critical'?)" in run.stderr
    assert "Traceback" not in run.output and "Scan" not in run.stderr


def test_scopes_gate_each_target_by_its_own_policy_in_every_output(simulator: Simulator, tmp_path: Path) -> None:
    tool = "quay.io/acme/tool:1.0"  # 2 medium, 3 low: passes the top level, fails its scope
    (tmp_path / ".ci-scan.yml").write_text(
        "fail-on: high\n"
        "scopes:\n"
        "  - images: acme/*\n"
        "    fail-on: medium\n"
        "  - images: team/app\n"  # 3 critical: fails the top level, passes its scope
        "    fail-on: none\n"
        "    max-critical: 10\n"
    )
    run = simulator.run("scan", "image", IMAGE, tool, *reports(tmp_path), cwd=tmp_path)
    assert run.code == 1, run.output
    parsed = validate_reports(tmp_path)
    report = parsed["json"]
    assert isinstance(report, dict)
    assert report["gate"]["scoped"] is True and report["gate"]["criteria"] == ["--fail-on high"]
    verdicts = {t["target"]["name"]: (t["verdict"], t["policy"]["scope"]) for t in report["targets"]}
    assert verdicts == {IMAGE: ("passed", ".ci-scan.yml line 5 (images team/app)"),
                        tool: ("failed", ".ci-scan.yml line 3 (images acme/*)")}
    assert "Gate FAILED (--fail-on high, or a target's scope): 2 targets: 1 passed, 1 failed" in run.stdout
    assert f"  {tool}: .ci-scan.yml line 3 (images acme/*): --fail-on medium (.ci-scan.yml line 4)" in run.stdout
    sarif = parsed["sarif"]
    assert isinstance(sarif, dict)
    scoped = {t["image"]: (t["verdict"], t["scope"]) for r in sarif["runs"] for t in r["properties"]["targets"]}
    assert scoped == verdicts
    errors = {result["properties"].get("image") for run_ in sarif["runs"] for result in run_["results"]
              if result["level"] == "error"}
    assert errors == {tool}
    junit = parsed["junit"]
    assert isinstance(junit, ET.Element)
    suites = {suite.get("name"): {p.get("name"): p.get("value") for p in suite.iter("property")}
              for suite in junit.iter("testsuite")}
    assert {name: (props["gate.verdict"], props["gate.scope"]) for name, props in suites.items()} == verdicts
