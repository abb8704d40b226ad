"""The baseline: which findings already existed (by kind, rule id, package name and path), where a
report baseline applies, bad baseline reports, choosing a baseline, and what decide() makes of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ci_scan.baseline import Baseline, BaselineRequest, baseline_key, key_of, load_baseline_report
from ci_scan.decision import Decision, Policy, decide
from ci_scan.errors import ConfigError, ExitCode
from ci_scan.formats.json import JsonFormat
from ci_scan.ignores import IgnoreEntry
from ci_scan.models import Finding, ImageRef, RunResult, Severity, Target, TargetResult
from ci_scan.vex_reader import load_vex
from tests.formats.helpers import image_target, vulnerability

APP = "registry.example.com/team/app"
SSL_PATH = "/usr/lib/x86_64-linux-gnu/libssl.so.3"


def vuln(rule_id: str = "CVE-2024-0001", component: str = "openssl:3.0.2", location: str = SSL_PATH,
         severity: Severity = Severity.CRITICAL, **fields: Any) -> Finding:
    return vulnerability(rule_id, severity, component, location=location, **fields)


def completed(reference: str, *findings: Finding) -> TargetResult:
    target = image_target(reference)
    return TargetResult(target=target, scan_id=f"{target.node_id}-1", status="COMPLETE", findings=findings)


def run_of(*results: TargetResult) -> RunResult:
    return RunResult(targets=results, console_url="https://console.example.com")


# -- matching -----------------------------------------------------------------------------------------


def test_a_bumped_package_with_the_same_cve_and_path_is_in_the_baseline() -> None:
    baseline = Baseline.of("scan s1", [vuln()])
    target = image_target(f"{APP}:1.5.0")
    assert baseline.contains(vuln(component="openssl:3.0.14"), target)
    assert baseline.contains(vuln(), target)


@pytest.mark.parametrize(
    ("finding", "why"),
    [
        (vuln(location="/opt/app/lib/libssl.so.3"), "another path"),
        (vuln(location=""), "no path"),
        (vuln(component="libssl3:3.0.2"), "another package name"),
        (vuln(component="openssl-legacy:3.0.2"), "a package whose name starts the same"),
        (vuln(rule_id="CVE-2024-0002"), "another rule id"),
        (Finding("secret", "CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2", location=SSL_PATH), "another kind"),
    ],
)
def test_what_is_not_in_the_baseline(finding: Finding, why: str) -> None:
    baseline = Baseline.of("scan s1", [vuln()])
    assert not baseline.contains(finding, image_target(f"{APP}:1.5.0")), why


def test_rule_ids_match_whatever_their_case() -> None:
    baseline = Baseline.of("scan s1", [vuln(rule_id="cve-2024-0001")])
    target = image_target(f"{APP}:1.5.0")
    assert baseline.contains(vuln(rule_id="CVE-2024-0001"), target)
    assert Baseline.of("scan s1", [vuln()]).contains(vuln(rule_id="Cve-2024-0001"), target)
    assert key_of(vuln(rule_id=" ghsa-abcd-efgh-ijkl ")) == baseline_key("vulnerability", "GHSA-ABCD-EFGH-IJKL",
                                                                          "openssl", SSL_PATH)


@pytest.mark.parametrize(("component", "name", "version"), [
    ("openssl:3.0.2", "openssl", "3.0.2"),
    ("bash", "bash", ""),
    ("libc6:1:2.31-13", "libc6", "1:2.31-13"),  # a Debian epoch belongs to the version
    ("org.apache.logging.log4j:log4j-core:2.14.1", "org.apache.logging.log4j:log4j-core", "2.14.1"),
    ("google.golang.org/grpc:v1.50.1", "google.golang.org/grpc", "v1.50.1"),
    ("tool:main", "tool", "main"),  # no version-like part: the last colon
])
def test_package_names_and_versions(component: str, name: str, version: str) -> None:
    finding = vuln(component=component)
    assert (finding.package_name, finding.package_version) == (name, version)
    baseline = Baseline.of("scan s1", [finding])
    assert baseline.contains(vuln(component=f"{name}:9.9"), image_target(f"{APP}:1.5.0"))


def test_a_package_that_gains_an_epoch_is_still_the_same_package() -> None:
    baseline = Baseline.of("scan s1", [vuln(component="zlib1g:1.2.11.dfsg-2")])
    assert baseline.contains(vuln(component="zlib1g:1:1.2.13.dfsg-1"), image_target(f"{APP}:1.5.0"))


def test_an_empty_console_baseline_still_covers_every_target() -> None:
    baseline = Baseline.of("scan s1", [])
    assert baseline.covers(image_target("quay.io/acme/anything:1")) and baseline.everywhere
    decision = decide(run_of(completed(f"{APP}:1.5.0", vuln())), Policy.from_fail_on("critical"), baseline=baseline)
    assert decision.warnings == ()
    assert decision.targets[0].disposition(vuln()) == "failing"


# -- report baselines -----------------------------------------------------------------------------------


HOST = Target(kind="host", node_id="host-1", node_type="host", name="build-host-1")


def previous_run() -> RunResult:
    """An earlier run: the app and a Docker Hub image completed, a host, an errored and a timed-out target."""
    worker = image_target("registry.example.com/team/worker:3.1")
    api = image_target("quay.io/acme/api:2.1")
    return run_of(
        completed(f"{APP}:1.4.2", vuln(), vuln("GHSA-aaaa-bbbb-cccc", "lodash:4.17.20", "/app/node_modules/lodash",
                                               Severity.HIGH), vuln("CVE-2024-0005", "curl:7.68.0", "", masked=True)),
        completed("acme/app:2.0", vuln("CVE-2024-0100", "requests:2.25.0", "/site-packages/requests")),
        TargetResult(target=HOST, scan_id="host-1-1", status="COMPLETE",
                     findings=(vuln("CVE-2024-0200", "bash:5.1", ""),)),
        TargetResult(target=worker, scan_id="w-1", status="ERROR", error="the console reported ERROR",
                     findings=(vuln("CVE-2024-0300"),)),
        TargetResult(target=api, scan_id="a-1", status="IN_PROGRESS", timed_out=True,
                     findings=(vuln("CVE-2024-0400"),)),
    )


def write_report(path: Path, run: RunResult, policy: Policy | None = None) -> Any:
    text = JsonFormat().render(decide(run, policy or Policy.from_fail_on("high")))
    path.write_text(text, encoding="utf-8")
    return json.loads(text)


def test_a_report_baseline_is_keyed_by_repository_and_skips_incomplete_targets(tmp_path: Path) -> None:
    path = tmp_path / "previous.json"
    write_report(path, previous_run())
    baseline = load_baseline_report(str(path))
    assert baseline.source == "report previous.json" and not baseline.everywhere and not baseline.shared
    assert set(baseline.by_repository) == {APP, "docker.io/acme/app", "build-host-1"}
    assert baseline.by_repository[APP] == {
        ("vulnerability", "CVE-2024-0001", "openssl", SSL_PATH),
        ("vulnerability", "GHSA-AAAA-BBBB-CCCC", "lodash", "/app/node_modules/lodash"),
        ("vulnerability", "CVE-2024-0005", "curl", ""),  # masked findings are in the baseline too
    }
    assert baseline.by_repository["build-host-1"] == {("vulnerability", "CVE-2024-0200", "bash", "")}
    # Another tag, another registry spelling of Docker Hub, the same host: covered.
    assert baseline.covers(image_target(f"{APP}:1.5.0"))
    assert baseline.covers(image_target("docker.io/acme/app:2.1"))
    assert baseline.contains(vuln("CVE-2024-0100", "requests:2.31.0", "/site-packages/requests"),
                             image_target("docker.io/acme/app:2.1"))
    assert baseline.covers(replace(HOST, node_id="host-2"))
    # The errored and the timed-out targets' findings are no baseline: not covered, nothing contained.
    for reference, rule_id in (("registry.example.com/team/worker:3.2", "CVE-2024-0300"),
                               ("quay.io/acme/api:2.2", "CVE-2024-0400")):
        assert not baseline.covers(image_target(reference))
        assert not baseline.contains(vuln(rule_id), image_target(reference))


def test_a_target_of_another_repository_gets_no_baseline_and_is_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "previous.json"
    write_report(path, previous_run())
    baseline = load_baseline_report(str(path))
    other = image_target("registry.example.com/team/other:1.0")
    assert not baseline.covers(other)
    assert not baseline.contains(vuln(), other)  # the app's finding, but in another repository
    run = run_of(completed(f"{APP}:1.5.0", vuln(component="openssl:3.0.14")),
                 completed("registry.example.com/team/other:1.0", vuln(),
                           vuln("CVE-2024-0009", severity=Severity.HIGH)))
    decision = decide(run, Policy.from_fail_on("high"), baseline=baseline)
    assert decision.warnings == (
        "the baseline (report previous.json) has no scan of registry.example.com/team/other:1.0: "
        "every finding there is new",
    )
    app, other_decision = decision.targets
    assert app.verdict == "passed" and app.disposition(vuln(component="openssl:3.0.14")) == "existing"
    assert other_decision.verdict == "failed"
    assert [other_decision.disposition(f) for f in other_decision.result.findings] == ["failing", "failing"]
    assert decision.exit_code == ExitCode.GATE_FAILED
    # The report a later run writes names the baseline and the warning.
    document = json.loads(JsonFormat().render(decision))
    assert document["gate"]["baseline"] == "report previous.json"
    assert decision.warnings[0] in document["warnings"]
    assert [f["disposition"] for f in document["targets"][0]["findings"]] == ["existing"]


def test_an_incomplete_target_is_not_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "previous.json"
    write_report(path, previous_run())
    broken = replace(completed("registry.example.com/team/other:1.0"), status="ERROR", error="boom")
    decision = decide(run_of(broken), Policy.from_fail_on("high"), baseline=load_baseline_report(str(path)))
    assert decision.warnings == ()


def _drop_findings_key(document: dict[str, Any]) -> dict[str, Any]:
    del document["targets"][0]["findings"]
    return document


def _drop_target_repository_fields(document: dict[str, Any]) -> dict[str, Any]:
    del document["targets"][0]["target"]
    return document


def _findings_not_objects(document: dict[str, Any]) -> dict[str, Any]:
    document["targets"][0]["findings"] = ["CVE-2024-0001"]
    return document


BadContent = str | Callable[[dict[str, Any]], Any] | None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read --baseline-report {path}: No such file or directory"),
        ('{\n  "schema_version": 2,\n  "tool": oops\n}\n', "--baseline-report {path} line 3: not JSON"),
        ("", "--baseline-report {path} line 1: not JSON"),
        ('{"version": "2.1.0", "runs": []}',
         "--baseline-report {path} is not a ci-scan JSON report of schema_version 2: give the --json report"),
        ('{"SchemaVersion": 2, "ArtifactName": "app", "Results": []}', "is not a ci-scan JSON report"),
        ('{"schema_version": 2, "tool": {"name": "trivy"}, "targets": []}', "is not a ci-scan JSON report"),
        ('{"schema_version": 2, "tool": "trivy", "targets": []}', "is not a ci-scan JSON report"),
        ('{"schema_version": 2, "tool": null, "targets": []}', "is not a ci-scan JSON report"),
        ("[1, 2]", "is not a ci-scan JSON report"),
        (lambda d: {**d, "schema_version": 1}, "is not a ci-scan JSON report of schema_version 2 (schema_version 1)"),
        ('{"schema_version": 2, "tool": {"name": "ci-scan"}}', "is not a complete ci-scan report (missing 'targets')"),
        (_drop_findings_key, "is not a complete ci-scan report (missing 'findings')"),
        (_drop_target_repository_fields, "is not a complete ci-scan report (missing 'target')"),
        (_findings_not_objects, "is not a complete ci-scan report"),
        (lambda d: {**d, "targets": {"a": 1}}, "is not a complete ci-scan report"),
    ],
    ids=["missing", "not-json", "empty", "sarif", "trivy", "another-tool", "tool-string", "tool-null", "a-list",
         "schema-1", "no-targets", "no-findings", "no-target", "findings-not-objects", "targets-not-a-list"],
)
def test_a_bad_report_is_a_config_error_naming_the_path(tmp_path: Path, content: BadContent, expected: str) -> None:
    path = tmp_path / "sub dir" / "previous.json"
    path.parent.mkdir()
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        document = write_report(tmp_path / "real.json", previous_run())
        path.write_text(json.dumps(content(document)), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_baseline_report(str(path))
    message = str(caught.value)
    assert str(path) in message
    assert expected.format(path=path) in message
    assert "\n" not in message
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_directory_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read --baseline-report .*: Is a directory"):
        load_baseline_report(str(tmp_path))


# -- choosing a baseline ----------------------------------------------------------------------------------


def test_two_baselines_at_once_are_an_error_naming_both() -> None:
    with pytest.raises(ConfigError) as caught:
        BaselineRequest.build("abc-1", f"{APP}:1.4.2", None)
    assert str(caught.value) == "--baseline-scan-id and --baseline-image name two baselines: choose one"
    with pytest.raises(ConfigError, match="--baseline-image and --baseline-report name two baselines"):
        BaselineRequest.build(None, f"{APP}:1.4.2", "previous.json")
    with pytest.raises(ConfigError, match="--baseline-scan-id and --baseline-image and --baseline-report"):
        BaselineRequest.build("abc-1", f"{APP}:1.4.2", "previous.json")


@pytest.mark.parametrize("ref", ["Team/App:1.0", "registry.example.com/team/app:bad tag", "https://registry/x"])
def test_a_bad_baseline_image_is_an_error(ref: str) -> None:
    with pytest.raises(ConfigError, match="^--baseline-image: "):
        BaselineRequest.build(None, ref, None)


def test_no_baseline_and_each_one() -> None:
    assert BaselineRequest.build(None, None, None) is None
    assert BaselineRequest.build("", "", "") is None
    # A blank value is not given, as an empty variable is not (it once became a request naming nothing).
    assert BaselineRequest.build("   ", None, None) is None
    assert BaselineRequest.build(" \t", " ", "  ") is None
    assert BaselineRequest.build(" abc-1 ", None, None) == BaselineRequest(scan_id="abc-1")
    assert BaselineRequest.build(None, f"{APP}:1.4.2", None) == BaselineRequest(image=ImageRef.parse(f"{APP}:1.4.2"))
    assert BaselineRequest.build(None, None, "previous.json") == BaselineRequest(report="previous.json")
    assert BaselineRequest.build("abc-1", " ", None) == BaselineRequest(scan_id="abc-1")  # not two baselines


# -- decide() with a baseline --------------------------------------------------------------------------------


def test_findings_in_the_baseline_are_existing_and_never_fail() -> None:
    old, new = vuln(component="openssl:3.0.14"), vuln("CVE-2024-0999", "curl:7.81.0", "")
    baseline = Baseline.of("scan s1", [vuln()])
    for policy in (Policy.from_fail_on("unknown"), Policy.build(max_counts={"critical": 0}),
                   Policy.build(at_least_counts={"total": 1})):
        decision = decide(run_of(completed(f"{APP}:1.5.0", old)), policy, baseline=baseline)
        (target,) = decision.targets
        assert target.disposition(old) == "existing", policy.criteria()
        assert target.verdict == "passed" and decision.exit_code == ExitCode.PASSED and target.failing == ()
        assert target.reason_for(old) == "existing: already in the baseline (scan s1), so not new"
        assert "1 finding(s) already in the baseline (scan s1)" in target.reason
        assert target.suppressed()["existing"] == 1
        assert decision.baseline is baseline and decision.warnings == ()
    decision = decide(run_of(completed(f"{APP}:1.5.0", old, new)), Policy.from_fail_on("critical"), baseline=baseline)
    (target,) = decision.targets
    assert target.failing == (new,) and decision.exit_code == ExitCode.GATE_FAILED
    assert target.disposition(new) == "failing" and target.disposition(old) == "existing"
    assert "already in the baseline (scan s1)" in target.reason
    assert [r.measured for r in target.rules] == [1]  # only the new finding is counted


def test_without_a_baseline_the_same_run_fails() -> None:
    decision = decide(run_of(completed(f"{APP}:1.5.0", vuln())), Policy.from_fail_on("critical"))
    assert decision.exit_code == ExitCode.GATE_FAILED and decision.baseline is None
    assert "baseline" not in decision.targets[0].reason


def _vex(tmp_path: Path, rule_id: str) -> Policy:
    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://vex.example.com/team/app/1",
        "author": "Team App Security <security@example.com>",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": [{"vulnerability": {"name": rule_id}, "products": [{"@id": APP}], "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path"}],
    }
    path = tmp_path / "app.openvex.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return replace(Policy.from_fail_on("low"), vex=load_vex([str(path)]))


def test_precedence_masked_vex_ignored_existing_unfixed(tmp_path: Path) -> None:
    masked = vuln("CVE-2024-0001", masked=True)
    vexed = vuln("CVE-2024-0002")
    ignored = vuln("CVE-2024-0003")
    existing_unfixed = vuln("CVE-2024-0004")  # no fixed_in, --ignore-unfixed on, and in the baseline
    unfixed = vuln("CVE-2024-0005")  # not in the baseline
    entry = IgnoreEntry(id="CVE-2024-0003", reason="reviewed, not reachable", where=".ci-scan-ignore.yml line 2")
    policy = replace(_vex(tmp_path, "CVE-2024-0002"), ignores=(entry,), ignore_unfixed=True)
    baseline = Baseline.of("scan s1", [masked, vexed, ignored, existing_unfixed])
    decision = decide(run_of(completed(f"{APP}:1.5.0", masked, vexed, ignored, existing_unfixed, unfixed)), policy,
                      baseline=baseline)
    (target,) = decision.targets
    assert {f.rule_id: target.disposition(f) for f in target.result.findings} == {
        "CVE-2024-0001": "masked", "CVE-2024-0002": "vex", "CVE-2024-0003": "ignored", "CVE-2024-0004": "existing",
        "CVE-2024-0005": "unfixed",
    }
    assert target.reason_for(ignored) == "ignored: reviewed, not reachable (.ci-scan-ignore.yml line 2)"
    assert target.suppressed() == {"masked": 1, "vex": 1, "ignored": 1, "existing": 1, "unfixed": 1}
    assert target.verdict == "passed"
    assert entry in target.entries_used  # the entry that won over the baseline is not reported as stale
    assert not any("matched no finding" in w for w in decision.warnings)


def test_an_expired_ignore_entry_leaves_a_baseline_finding_existing() -> None:
    import datetime as dt

    finding = vuln()
    entry = IgnoreEntry(id=finding.rule_id, reason="accepted last year", expires=dt.date(2024, 1, 1),
                        where=".ci-scan-ignore.yml line 2")
    policy = replace(Policy.from_fail_on("critical"), ignores=(entry,))
    decision: Decision = decide(run_of(completed(f"{APP}:1.5.0", finding)), policy, today=dt.date(2025, 1, 1),
                                baseline=Baseline.of("scan s1", [finding]))
    (target,) = decision.targets
    assert target.disposition(finding) == "existing" and target.verdict == "passed"


def test_a_report_with_a_number_of_thousands_of_digits_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text('{"schema_version": ' + "2" * 5000 + "}")
    with pytest.raises(ConfigError, match="--baseline-report .*huge.json: cannot be read"):
        load_baseline_report(str(path))
