"""CycloneDX SBOM: strict 1.5 schema validity, purls, affects, VEX analysis, determinism, golden file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ci_scan.decision import Decision, Policy, decide
from ci_scan.formats import report
from ci_scan.formats.cyclonedx import CycloneDxFormat, purl_for
from ci_scan.models import Finding, Package, RunResult, Severity, TargetResult
from ci_scan.scan import _packages
from ci_scan.simulator.samples import default_dataset
from ci_scan.simulator.sbom import runtime_sbom
from ci_scan.vex import Product, VexStatement
from ci_scan.wire import parse_sbom, parse_vulnerability
from tests.formats.helpers import DIGEST, NASTY_TEXT, assert_golden, image_target, vulnerability
from tests.formats.helpers import decide as decide_at

# Read at import: the autouse _clean_env fixture removes every CI_SCAN_* variable before a test runs.
RENDER = CycloneDxFormat().render
IMAGE = "registry.example.com/team/app:1.4.2"
END_MS = 1732752060000


@cache
def validator() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_5)


def sbom(decision: Decision) -> Any:
    text = RENDER(decision)
    error = validator().validate_str(text)
    assert error is None, str(error)
    return json.loads(text)


def simulated(reference: str = IMAGE, *, index: int = 0) -> TargetResult:
    """The simulator's team/app:1.4.2, its findings and its runtime SBOM as ci-scan reads them."""
    image = default_dataset().image("team/app", "1.4.2")
    rows = image.findings()
    findings = tuple(parse_vulnerability(row) for row in rows)
    return TargetResult(image_target(reference, digest=DIGEST), f"scan-{index}", "COMPLETE", findings,
                        started_at_ms=END_MS - 60000, finished_at_ms=END_MS + index,
                        packages=_packages(parse_sbom(runtime_sbom(rows))))


def all_components(document: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            found.append(component)
            walk(component.get("components", []))

    root = document["metadata"].get("component")
    walk([root] if root else [])
    walk(document.get("components", []))
    return found


def refs(document: Any) -> list[str]:
    vulnerabilities = document.get("vulnerabilities", [])
    return [c["bom-ref"] for c in all_components(document)] + [v["bom-ref"] for v in vulnerabilities]


def prop(entry: dict[str, Any], name: str) -> str | None:
    return next((p["value"] for p in entry.get("properties", []) if p["name"] == name), None)


def vex_decision() -> tuple[Decision, dict[str, Finding]]:
    """One target: a not_affected finding (VEX), a fixed one (VEX), an ignored one and a masked one."""
    base = simulated()
    findings = {
        "vex": vulnerability("CVE-2024-0101", Severity.CRITICAL, "openssl:3.0.2", result_id="v1"),
        "fixed": vulnerability("CVE-2024-0102", Severity.HIGH, "openssl:3.0.2", result_id="v2"),
        "odd": vulnerability("CVE-2024-0105", Severity.HIGH, "openssl:3.0.2", result_id="v5"),
        "ignored": vulnerability("CVE-2024-0103", Severity.CRITICAL, "bash:5.1-6ubuntu1", result_id="v3"),
        "masked": vulnerability("CVE-2024-0104", Severity.CRITICAL, "nowhere:9.9", result_id="v4",
                                location="/opt/nowhere/node_modules/nowhere/package.json", masked=True),
    }

    def statement(cve: str, status: str, justification: str) -> VexStatement:
        return VexStatement(vulnerability=cve, aliases=(), products=(Product((IMAGE,)),), status=status,
                            justification=justification, impact_statement="", action_statement="",
                            timestamp=None, where="vex.json")

    from ci_scan.ignores import IgnoreEntry

    policy = replace(Policy.build(fail_on="high", ignores=(IgnoreEntry(id="CVE-2024-0103", reason="reviewed",
                                                                         where=".ci-scan-ignore.yml line 2"),)),
                     vex=(statement("CVE-2024-0101", "not_affected", "vulnerable_code_not_in_execute_path"),
                          statement("CVE-2024-0102", "fixed", ""),
                          statement("CVE-2024-0105", "not_affected",
                                    "vulnerable_code_cannot_be_controlled_by_adversary")))
    result = replace(base, findings=(*base.findings, *findings.values()))
    return decide(RunResult(targets=(result,)), policy), findings


def incomplete() -> TargetResult:
    return TargetResult(image_target("quay.io/acme/worker:3.1"), "w-scan", "ERROR",
                        findings=(vulnerability("CVE-2024-0900", Severity.CRITICAL, "glibc:2.31"),),
                        packages=(Package("glibc", "2.31"),), error="failed to pull: manifest unknown")


def test_registered_and_lazy() -> None:
    spec = report("sbom")
    assert spec.renderer == "ci_scan.formats.cyclonedx:CycloneDxFormat"
    assert spec.load().default_filename == spec.default_filename
    # Importing the renderer's module (as the registry does) costs no import of the library.
    code = ("import sys, ci_scan.cli, ci_scan.formats.cyclonedx; "
            "sys.exit(any(m.split('.')[0] in ('cyclonedx', 'packageurl') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], check=False).returncode == 0


def test_one_target() -> None:
    document = sbom(decide_at(RunResult(targets=(simulated(),))))
    assert document["specVersion"] == "1.5"
    root = document["metadata"]["component"]
    assert root["type"] == "container"
    assert root["name"] == "registry.example.com/team/app"
    assert root["version"] == "1.4.2"
    assert root["purl"] == (f"pkg:oci/app@{DIGEST}"
                            "?repository_url=registry.example.com/team/app&tag=1.4.2")
    assert document["metadata"]["timestamp"].startswith("2024-11-28T00:01:00")
    assert document["serialNumber"].startswith("urn:uuid:")
    names = {(c["name"], c["version"]) for c in document["components"]}
    assert ("log4j-core", "2.14.1") in names and ("tzdata", "2024a-0ubuntu0.22.04") in names
    log4j = next(c for c in document["components"] if c["name"] == "log4j-core")
    assert log4j["purl"] == "pkg:maven/log4j-core@2.14.1"
    assert log4j["properties"] == [{"name": "ci-scan:location", "value": "/app/lib/log4j-core-2.14.1.jar"}]
    assert log4j["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    tzdata = next(c for c in document["components"] if c["name"] == "tzdata")
    assert tzdata["licenses"] == [{"license": {"name": "public-domain"}}]
    (dependency,) = [d for d in document["dependencies"] if d["ref"] == root["bom-ref"]]
    assert len(dependency["dependsOn"]) == len(document["components"])


def test_several_targets_nest_their_packages() -> None:
    run = RunResult(targets=(simulated(), simulated("registry.example.com/team/app:1.4.3", index=1), incomplete()))
    document = sbom(decide_at(run))
    assert document["metadata"]["component"]["name"] == "ci-scan run"
    images = document["components"]
    assert [i["type"] for i in images] == ["container"] * 3
    by_version = {i["version"]: i for i in images}
    assert len(by_version["1.4.2"]["components"]) == len(by_version["1.4.3"]["components"]) > 20
    worker = by_version["3.1"]
    assert "components" not in worker
    assert prop(worker, "ci-scan:verdict") == "incomplete"
    assert "manifest unknown" in (prop(worker, "ci-scan:reason") or "")
    all_refs = refs(document)
    assert len(all_refs) == len(set(all_refs))
    assert not any(v["affects"][0]["ref"].startswith("2:") for v in document["vulnerabilities"])


def test_no_targets() -> None:
    document = sbom(decide_at(RunResult(targets=(), error="the console is unreachable")))
    assert set(document) == {"$schema", "bomFormat", "specVersion", "version", "metadata", "dependencies"}
    assert "timestamp" not in document["metadata"] and "serialNumber" not in document


def test_nasty_text(nasty_run: RunResult) -> None:
    target = nasty_run.targets[0]
    packages = (Package(NASTY_TEXT, NASTY_TEXT, (NASTY_TEXT, "/x/site-packages/\ud800"),
                        (NASTY_TEXT, "MIT OR Apache-2.0")),
                Package("lib:evil", "1.0", ("/opt/my app/lib:v2/file name.jar",), ("MIT OR Apache-2.0",)))
    document = sbom(decide_at(replace(nasty_run, targets=(replace(target, packages=packages),))))
    text = json.dumps(document, ensure_ascii=False)
    assert "\x00" not in text and "\u202e" not in text and "\ud800" not in text
    evil = next(c for c in document["components"] if c["name"] == "lib:evil")
    assert evil["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    all_refs = refs(document)
    assert len(all_refs) == len(set(all_refs))


@pytest.mark.parametrize(("name", "version", "locations", "purl"), [
    ("requests", "2.25.1", ["/usr/lib/python3/dist-packages/requests-2.25.1.dist-info/METADATA"],
     "pkg:pypi/requests@2.25.1"),
    ("PyYAML", "5.3.1", ["/usr/local/lib/python3.11/site-packages/PyYAML-5.3.1.dist-info"], "pkg:pypi/pyyaml@5.3.1"),
    ("axios", "0.21.1", ["/app/node_modules/axios/package.json"], "pkg:npm/axios@0.21.1"),
    ("@babel/core", "7.0.0", ["/app/node_modules/@babel/core/package.json"], "pkg:npm/%40babel/core@7.0.0"),
    ("log4j-core", "2.14.1", ["/app/lib/log4j-core-2.14.1.jar"], "pkg:maven/log4j-core@2.14.1"),
    ("org.apache.logging.log4j:log4j-core", "2.14.1", ["/app/app.jar"],
     "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
    ("openssl", "1:3.0.2-0ubuntu1", ["/var/lib/dpkg/status"], "pkg:deb/openssl@1:3.0.2-0ubuntu1"),
    ("musl", "1.2.4-r2", ["/lib/apk/db/installed"], "pkg:apk/musl@1.2.4-r2"),
    ("glibc", "2.34", ["/var/lib/rpm/Packages"], "pkg:rpm/glibc@2.34"),
    ("golang.org/x/net", "v0.7.0", ["/usr/local/bin/app"], "pkg:golang/golang.org/x/net@v0.7.0"),
    ("github.com/foo/bar", "v1.0.0", [], "pkg:golang/github.com/foo/bar@v1.0.0"),
    ("stdlib", "go1.19.4", ["/usr/local/bin/app"], None),
    ("libfoo", "1.0", ["/usr/lib/libfoo.so"], None),
    ("some/thing", "1.0", [], None),
    ("", "1.0", ["/app/node_modules/x/package.json"], None),
])
def test_purl_derivation(name: str, version: str, locations: list[str], purl: str | None) -> None:
    derived = purl_for(name, version, locations)
    assert (derived.to_string() if derived else None) == purl


def test_every_affects_resolves() -> None:
    decision, _ = vex_decision()
    document = sbom(decision)
    known = {c["bom-ref"] for c in all_components(document)}
    assert document["vulnerabilities"]
    for entry in document["vulnerabilities"]:
        assert [a["ref"] for a in entry["affects"]] and all(a["ref"] in known for a in entry["affects"])
    # the masked finding's package is not in the SBOM: it was added from the finding
    nowhere = next(c for c in document["components"] if c["name"] == "nowhere")
    assert nowhere["purl"] == "pkg:npm/nowhere@9.9"
    assert len(document["vulnerabilities"]) == len(decision.targets[0].result.findings)


def test_analysis_from_the_decision() -> None:
    decision, _ = vex_decision()
    by_id = {v["id"]: v for v in sbom(decision)["vulnerabilities"]}
    vexed = by_id["CVE-2024-0101"]
    assert vexed["analysis"]["state"] == "not_affected"
    assert vexed["analysis"]["justification"] == "code_not_reachable"
    assert prop(vexed, "ci-scan:disposition") == "vex"
    assert by_id["CVE-2024-0102"]["analysis"]["state"] == "resolved"
    odd = by_id["CVE-2024-0105"]["analysis"]
    assert odd["state"] == "not_affected" and "justification" not in odd
    assert "cannot_be_controlled" in odd["detail"]
    ignored = by_id["CVE-2024-0103"]
    assert "state" not in ignored["analysis"] and "reviewed" in ignored["analysis"]["detail"]
    assert prop(ignored, "ci-scan:disposition") == "ignored"
    assert prop(by_id["CVE-2024-0104"], "ci-scan:disposition") == "masked"
    openssl = next(v for v in by_id.values() if v["id"].startswith("CVE-2015-42894"))
    assert openssl["source"] == {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2015-42894"}
    assert openssl["recommendation"] == "Upgrade openssl to 3.0.14"
    (rating,) = openssl["ratings"]
    assert rating["method"] == "other" and rating["severity"] == "medium"


def test_renders_are_byte_identical() -> None:
    decision, _ = vex_decision()
    assert RENDER(decision) == RENDER(decision)
    run = RunResult(targets=(simulated(), simulated("registry.example.com/team/app:1.4.3", index=1)))
    assert RENDER(decide_at(run)) == RENDER(decide_at(run))


def test_golden() -> None:
    decision, _ = vex_decision()
    assert_golden("cyclonedx-sample.json", RENDER(decision))


def test_render_time_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """200 packages and 400 findings (the 10k/20k figure is measured by hand: it takes a minute)."""
    packages = tuple(Package(f"package-{i}", f"1.{i}", (f"/usr/lib/python3/site-packages/package-{i}/METADATA",),
                             ("MIT",)) for i in range(200))
    findings = tuple(vulnerability(f"CVE-2024-{i:05d}", Severity.HIGH, f"package-{i % 200}:1.{i % 200}",
                                   result_id=f"r{i}", fixed_in="2.0", score=5.5) for i in range(400))
    result = TargetResult(image_target(IMAGE, digest=DIGEST), "big", "COMPLETE", findings, packages=packages)
    started = time.perf_counter()
    document = sbom(decide_at(RunResult(targets=(result,))))
    elapsed = time.perf_counter() - started
    assert len(document["vulnerabilities"]) == 400 and len(document["components"]) == 200
    with capsys.disabled():
        print(f"\nCycloneDX: 200 packages, 400 findings rendered and validated in {elapsed:.1f}s")


@pytest.mark.parametrize(("score", "written"), [(5.55, 5.6), (0.30000000000000004, 0.3), (1e-7, 0.0), (3.9, 3.9)])
def test_a_score_is_written_to_one_decimal_as_the_library_writes_it(score: float, written: float) -> None:
    finding = vulnerability("CVE-2024-0001", Severity.HIGH, "openssl:3.0.2", score=score)
    run = RunResult(targets=(TargetResult(target=image_target("registry.example.com/team/app:1.0"),
                                          scan_id="s", findings=(finding,)),))
    (entry,) = sbom(decide_at(run))["vulnerabilities"]
    assert entry["ratings"][0]["score"] == written
