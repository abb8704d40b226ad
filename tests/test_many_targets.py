"""Many images, whole registries and existing scans in one run, through the real client and app, in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_scan.app import run
from ci_scan.client import ConsoleClient
from ci_scan.config import ExistingScans, ImageScan, RegistryScan, Settings
from ci_scan.decision import Policy, decide
from ci_scan.errors import ExitCode, TargetNotFound
from ci_scan.models import ImageRef, RunResult
from ci_scan.scan import Scanner, ScanOptions
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, default_dataset
from tests.conftest import FakeTime

URL = "https://console.test"
REG = "registry.example.com/team"
STATUS = "/deepfence/scan/status/vulnerability"
START = "/deepfence/scan/start/vulnerability"


def make_scanner(sim: ConsoleSimulator, time: FakeTime | None = None, messages: list[str] | None = None,
                 transport: httpx.BaseTransport | None = None, **options: Any) -> Scanner:
    time = time or FakeTime()
    client = ConsoleClient(URL, ADMIN_TOKEN, transport=transport or httpx.WSGITransport(app=sim), sleep=time.sleep)
    out = messages if messages is not None else []
    return Scanner(client, ScanOptions(**options), out.append,
                   clock=time.clock, sleep=time.sleep, wall_clock=lambda: sim.state.now_ms() / 1000)


def scan_images(sim: ConsoleSimulator, *refs: str, **options: Any) -> tuple[RunResult, list[str]]:
    messages: list[str] = []
    result = make_scanner(sim, messages=messages, **options).scan_images([ImageRef.parse(r) for r in refs])
    return result, messages


def paths(sim: ConsoleSimulator, path: str) -> list[dict[str, Any]]:
    return [r.json() for r in sim.requests if r.path == path]


def run_app(settings: Settings, sim: ConsoleSimulator) -> tuple[ExitCode, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(settings, transport=httpx.WSGITransport(app=sim), stdout=out, stderr=err, sleep=lambda _: None)
    return code, out.getvalue(), err.getvalue()


def settings_for(request: ImageScan | RegistryScan | ExistingScans, **values: Any) -> Settings:
    return Settings.build(console_url=URL, api_token=ADMIN_TOKEN, request=request, **values)


def images(*refs: str) -> ImageScan:
    return ImageScan(tuple(ImageRef.parse(r) for r in refs))


# -- one start, one status request per round -------------------------------------------------------

@pytest.mark.parametrize("count", [1, 10])
def test_n_images_take_one_start_and_one_status_request_per_round(count: int) -> None:
    sim = ConsoleSimulator(default_dataset(extra_images=count * 8))
    bulk = sim.dataset.registries[-1]
    refs = [f"bulk.example.com/{image.repository}:latest" for image in bulk.images if "latest" in image.tags][:count]
    assert len(refs) == count
    result, _ = scan_images(sim, *refs)
    assert len(result.targets) == count and all(t.completed for t in result.targets)
    (start,) = paths(sim, START)
    assert len(start["node_ids"]) == count
    polls = paths(sim, STATUS)
    assert all(p["bulk_scan_id"] and p["scan_ids"] == [] for p in polls)
    # The same timeline whatever the count: as many status requests for 10 images as for 1 (the scans
    # complete at the 4th poll, matching ends at the 6th, and --settle-time's 10 s take five 2 s rounds).
    assert len(polls) == 11


def test_the_same_image_given_twice_is_scanned_once() -> None:
    sim = ConsoleSimulator()
    digest = sim.dataset.image("team/app", "1.4.2").digest
    result, messages = scan_images(sim, f"{REG}/app:1.4.2", f"{REG}/app:latest", f"{REG}/app@{digest}")
    assert len(result.targets) == 1
    (start,) = paths(sim, START)
    assert len(start["node_ids"]) == 1
    assert sum("is the same image as" in m for m in messages) == 2


def test_every_missing_image_is_named_and_nothing_starts() -> None:
    sim = ConsoleSimulator()
    with pytest.raises(TargetNotFound) as missing:
        scan_images(sim, f"{REG}/app:1.4.2", f"{REG}/app:9.9", f"{REG}/nope:1")
    message = str(missing.value)
    assert "2 of 3 images are not on the console, so nothing was started" in message
    assert "app:9.9" in message and "nope:1" in message
    assert paths(sim, START) == []


def test_a_tag_on_several_image_nodes_scans_them_all_and_gates_on_the_union() -> None:
    sim = ConsoleSimulator()
    result, messages = scan_images(sim, f"{REG}/multiarch:1.0")
    assert len(result.targets) == 2
    assert {t.target.name for t in result.targets} == {f"{REG}/multiarch:1.0"}
    assert len({t.target.digest for t in result.targets}) == 2
    assert any("is 2 images on the console" in m for m in messages)
    decision = decide(result, Policy.from_fail_on("critical"))
    assert [t.verdict for t in decision.targets].count("failed") == 1  # only the arm64 image has a critical
    assert decision.exit_code == ExitCode.GATE_FAILED


# -- one verdict, in the documented precedence -----------------------------------------------------

@pytest.mark.parametrize(
    ("refs", "code"),
    [
        (["app:1.4.2", "broken:1.0", "stuck:1.0"], ExitCode.GATE_FAILED),
        (["clean:1.0", "broken:1.0", "stuck:1.0"], ExitCode.SCAN_INCOMPLETE),
        (["clean:1.0", "stuck:1.0"], ExitCode.TIMED_OUT),
        (["clean:1.0", "app:1.4.1"], ExitCode.PASSED),
        (["clean:1.0", "contradictory:1.0"], ExitCode.SCAN_INCOMPLETE),
    ],
)
def test_one_exit_code_for_all_targets(refs: list[str], code: ExitCode) -> None:
    sim = ConsoleSimulator()
    result, _ = scan_images(sim, *(f"{REG}/{r}" for r in refs), timeout=60)
    decision = decide(result, Policy.from_fail_on("critical"))
    assert len(decision.targets) == len(refs)
    assert decision.exit_code == code


def test_the_summary_has_a_line_per_target_and_the_reports_keep_every_target(tmp_path: Path) -> None:
    sim = ConsoleSimulator()
    report = tmp_path / "r.json"
    code, out, err = run_app(settings_for(images(f"{REG}/app:1.4.1", f"{REG}/broken:1.0"),
                                          reports={"json": str(report)}, policy={"fail_on": "high"}), sim)
    assert code == ExitCode.SCAN_INCOMPLETE
    assert f"{REG}/app:1.4.1" in out and f"{REG}/broken:1.0" in out
    data = json.loads(report.read_text())
    by_name = {t["target"]["name"]: t for t in data["targets"]}
    assert by_name[f"{REG}/broken:1.0"]["error"].startswith("scan ")
    assert "ended ERROR" in by_name[f"{REG}/broken:1.0"]["error"]
    assert by_name[f"{REG}/app:1.4.1"]["target"]["digest"].startswith("sha256:")


# -- defects that used to pass a vulnerable image ------------------------------------------------

def test_a_count_that_contradicts_the_results_is_never_a_pass() -> None:
    sim = ConsoleSimulator()
    result, _ = scan_images(sim, f"{REG}/contradictory:1.0")
    (target,) = result.targets
    assert not target.completed and "counted 2 findings" in target.error
    assert decide(result, Policy.from_fail_on("critical")).exit_code == ExitCode.SCAN_INCOMPLETE


def test_severity_counts_above_the_findings_are_a_contradiction() -> None:
    sim = ConsoleSimulator()
    body = {"scan_id": "x", "severity_counts": {"critical": 2}, "vulnerabilities": None}
    sim.inject("/deepfence/scan/results/count/vulnerability", 404, times=1)  # no total to compare with
    sim.inject("/deepfence/scan/results/vulnerability", 200, body=body, times=1)
    result, _ = scan_images(sim, f"{REG}/clean:1.0")
    (target,) = result.targets
    assert "say 2 critical unmasked findings but its results hold 0 critical" in target.error


def test_the_first_complete_is_not_gated_before_the_matching_finished() -> None:
    sim = ConsoleSimulator()
    result, messages = scan_images(sim, f"{REG}/app:1.4.2")
    (target,) = result.targets
    assert len(target.findings) == 45
    order = [r.path for r in sim.requests if r.path in (STATUS, "/deepfence/scan/sbom",
                                                          "/deepfence/scan/results/vulnerability")]
    first_results = order.index("/deepfence/scan/results/vulnerability")
    assert order[first_results - 1] == "/deepfence/scan/sbom"
    assert order.count("/deepfence/scan/sbom") >= 2  # asked again after the console said "not yet"
    assert any("waiting for the console to finish matching" in m for m in messages)


def test_a_scan_the_console_never_matches_ends_in_exit_3_after_two_minutes() -> None:
    sim = ConsoleSimulator()
    time = FakeTime()
    result = make_scanner(sim, time).scan_images([ImageRef.parse(f"{REG}/never-matched:1.0")])
    (target,) = result.targets
    assert "never finished matching its vulnerabilities" in target.error
    assert 120 <= time.now <= 150
    assert decide(result, Policy()).exit_code == ExitCode.SCAN_INCOMPLETE


def test_console_text_cannot_steer_the_log_or_crash_the_summary(tmp_path: Path) -> None:
    sim = ConsoleSimulator()
    code, out, err = run_app(settings_for(images(f"{REG}/hostile:1.0"), policy={"fail_on": "low"},
                                          reports={"json": str(tmp_path / "r.json"),
                                                   "sarif": str(tmp_path / "r.sarif"),
                                                   "junit": str(tmp_path / "r.xml")}), sim)
    assert code == ExitCode.GATE_FAILED, err
    for line in (out + err).splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "\x1b" not in line and "\ud800" not in line
    json.loads((tmp_path / "r.json").read_text())


# -- report paths ----------------------------------------------------------------------------------

def test_report_paths_that_collide_fail_before_anything_is_asked(tmp_path: Path) -> None:
    sim = ConsoleSimulator()
    settings = settings_for(images(f"{REG}/app:1.4.2"), reports={
        "junit": str(tmp_path / "r.xml"), "sarif": str(tmp_path / "a" / ".." / "r.xml")})
    code, _, err = run_app(settings, sim)
    assert code == ExitCode.USAGE and "--sarif" in err
    assert sim.requests == []


@pytest.mark.parametrize(("image", "code"),
                         [("app:1.4.2", ExitCode.GATE_FAILED), ("clean:1.0", ExitCode.SCAN_INCOMPLETE)])
def test_a_report_that_cannot_be_written_keeps_the_verdict(image: str, code: ExitCode, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import ci_scan.reports
    from ci_scan.errors import ConfigError

    def refuse(target: Path, data: bytes, given: object) -> str:  # a full disk shows when the file is written
        raise ConfigError(f"cannot write report {given}: No space left on device")

    monkeypatch.setattr(ci_scan.reports, "_stage", refuse)
    settings = settings_for(images(f"{REG}/{image}"), reports={"json": str(tmp_path / "r.json")})
    got, out, err = run_app(settings, ConsoleSimulator())
    assert got == code
    assert "Gate " in out and "No space left on device" in err


# -- whole registries --------------------------------------------------------------------------------

def test_a_registry_scan_is_one_start_and_one_status_request_per_round() -> None:
    sim = ConsoleSimulator(default_dataset(extra_images=60))
    messages: list[str] = []
    result = make_scanner(sim, messages=messages).scan_registry("bulk-registry", "latest")
    (start,) = paths(sim, START)
    assert start["node_ids"] == [{"node_id": "docker_private_registry-bulk-bot-4", "node_type": "registry"}]
    # The keyword path, every repository named: `docker_image_tag` alone holds only a digest's last tag.
    repositories = sorted({i.repository for i in sim.dataset.registries[-1].images})
    assert start["filters"]["image_scan_filter"] == {
        "filter_in": {"docker_image_name": repositories, "docker_image_tag": ["latest"]}}
    assert len(result.targets) > 5 and all(t.completed for t in result.targets)
    assert all(t.target.name.startswith("bulk.example.com/bulk/svc-") for t in result.targets)
    assert all(p["bulk_scan_id"] for p in paths(sim, STATUS))
    assert len(paths(sim, STATUS)) == 11
    assert any(m.startswith(f"Selected {len(result.targets)} image(s) in registry bulk-registry") for m in messages)


@pytest.mark.parametrize("tags", ["recent", "all"])
def test_registry_keywords_go_with_repository_names(tags: str) -> None:
    sim = ConsoleSimulator()
    result = make_scanner(sim).scan_registry("example-registry", tags, ["team/app"])
    (start,) = paths(sim, START)
    assert start["filters"]["image_scan_filter"] == {
        "filter_in": {"docker_image_name": ["team/app"], "docker_image_tag": [tags]}}
    assert len(result.targets) == (1 if tags == "recent" else 2)


def test_an_unknown_repository_or_registry_is_named() -> None:
    sim = ConsoleSimulator()
    with pytest.raises(TargetNotFound, match="has no repository 'team/none'"):
        make_scanner(sim).scan_registry("example-registry", "latest", ["team/none"])
    with pytest.raises(TargetNotFound, match="no registry account 'nope'"):
        make_scanner(sim).scan_registry("nope")
    assert paths(sim, START) == []


# -- existing scans ----------------------------------------------------------------------------------

def _finished_scan_id(sim: ConsoleSimulator, image: str) -> str:
    result, _ = scan_images(sim, image)
    return result.targets[0].scan_id


def test_results_gates_existing_scans_and_starts_nothing() -> None:
    sim = ConsoleSimulator()
    first = _finished_scan_id(sim, f"{REG}/app:1.4.2")
    second = _finished_scan_id(sim, f"{REG}/clean:1.0")
    starts = len(paths(sim, START))
    result = make_scanner(sim).gate_existing([first, second])
    assert len(paths(sim, START)) == starts
    assert [t.scan_id for t in result.targets] == [first, second]
    assert len(result.targets[0].findings) == 45
    assert any("existing scan" in n for n in result.targets[0].notes)
    with pytest.raises(TargetNotFound, match="no vulnerability scan 'nope-1'"):
        make_scanner(sim).gate_existing([first, "nope-1"])


def test_a_recent_complete_scan_is_reused_within_the_window() -> None:
    sim = ConsoleSimulator()
    _finished_scan_id(sim, f"{REG}/app:1.4.2")
    starts = len(paths(sim, START))
    result, messages = scan_images(sim, f"{REG}/app:1.4.2", reuse_within=3600.0)
    assert len(paths(sim, START)) == starts
    assert "reused scan" in result.targets[0].notes[0] and len(result.targets[0].findings) == 45
    result, _ = scan_images(sim, f"{REG}/app:1.4.2", reuse_within=0.001)
    assert len(paths(sim, START)) == starts + 1


class DatedTransport(httpx.BaseTransport):
    """The simulator in-process, with the `Date` header a real HTTP server sends."""

    def __init__(self, sim: ConsoleSimulator, now: Callable[[], float]) -> None:
        self.inner, self.now = httpx.WSGITransport(app=sim), now

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from email.utils import formatdate

        response = self.inner.handle_request(request)
        response.headers["Date"] = formatdate(self.now(), usegmt=True)
        return response


def test_a_scan_already_running_is_attached_to_not_started() -> None:
    moment = [1_800_000_000.0]
    sim = ConsoleSimulator(clock=lambda: moment[0])
    transport = DatedTransport(sim, lambda: moment[0])
    first = make_scanner(sim, transport=transport, timeout=5, cancel=False).scan_images(
        [ImageRef.parse(f"{REG}/stuck:1.0")])
    moment[0] += 300
    messages: list[str] = []
    second = make_scanner(sim, messages=messages, transport=transport, timeout=5).scan_images(
        [ImageRef.parse(f"{REG}/stuck:1.0")])
    assert second.targets[0].scan_id == first.targets[0].scan_id
    assert any(m.startswith("Attached to running scan") for m in messages)
    assert any("attached to running scan" in n for n in second.targets[0].notes)
    fresh: list[str] = []
    make_scanner(sim, messages=fresh, transport=transport, timeout=5).scan_images(
        [ImageRef.parse(f"{REG}/clean:1.0")])
    assert any(m.startswith("Scan ") and " started for " in m for m in fresh)


# -- from the review: console faults must not cost verdicts already reached ----------------------------

class FailingAfter(httpx.BaseTransport):
    """The simulator, except that status requests after the first `ok` ones get `status`."""

    def __init__(self, sim: ConsoleSimulator, ok: int, status: int) -> None:
        self.inner, self.ok, self.status, self.polls = httpx.WSGITransport(app=sim), ok, status, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == STATUS:
            self.polls += 1
            if self.polls > self.ok:
                return httpx.Response(self.status, json={"message": "Node unknown not found", "error_fields": None,
                                                         "error_index": None})
        return self.inner.handle_request(request)


@pytest.mark.parametrize("status", [404, 400, 401])
def test_a_console_error_mid_run_keeps_the_verdicts_already_reached(status: int) -> None:
    sim = ConsoleSimulator()
    messages: list[str] = []
    transport = FailingAfter(sim, ok=12, status=status)
    result = make_scanner(sim, messages=messages, transport=transport).scan_images(
        [ImageRef.parse(f"{REG}/app:1.4.2"), ImageRef.parse(f"{REG}/stuck:1.0")])
    by_name = {t.target.name: t for t in result.targets}
    assert by_name[f"{REG}/app:1.4.2"].completed and len(by_name[f"{REG}/app:1.4.2"].findings) == 45
    assert not by_name[f"{REG}/stuck:1.0"].completed and by_name[f"{REG}/stuck:1.0"].error
    assert decide(result, Policy()).exit_code == ExitCode.GATE_FAILED  # the certain failure wins over 3
    if status == 404:  # an unknown bulk: asked again by id before giving up
        assert paths(sim, STATUS)[-1]["bulk_scan_id"] == "" or transport.polls > 13


def test_results_never_starts_a_scan_even_for_one_being_cancelled() -> None:
    sim = ConsoleSimulator()
    node = sim.dataset.image("team/stuck", "1.0").node_id
    with ConsoleClient(URL, ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim)) as other:
        from ci_scan.kinds import VULNERABILITY

        (reply,) = other.start_scans(VULNERABILITY, [(node, "image")], ["base"])
        (scan_id,) = reply.scan_ids
        other.scan_statuses(VULNERABILITY, [scan_id])
        other.scan_statuses(VULNERABILITY, [scan_id])
        other.stop_scans(VULNERABILITY, [scan_id])
    starts = len(paths(sim, START))
    result = make_scanner(sim, timeout=60).gate_existing([scan_id])
    assert len(paths(sim, START)) == starts
    assert "ended CANCELLED" in result.targets[0].error


def test_a_timeout_stops_only_scans_this_run_started() -> None:
    moment = [1_800_000_000.0]
    sim = ConsoleSimulator(clock=lambda: moment[0])
    transport = DatedTransport(sim, lambda: moment[0])
    make_scanner(sim, transport=transport, timeout=5, cancel=False).scan_images([ImageRef.parse(f"{REG}/stuck:1.0")])
    moment[0] += 300
    second = make_scanner(sim, transport=transport, timeout=5).scan_images(
        [ImageRef.parse(f"{REG}/stuck:1.0"), ImageRef.parse(f"{REG}/flaky:1.0")])
    by_name = {t.target.name: t for t in second.targets}
    assert by_name[f"{REG}/stuck:1.0"].timed_out and by_name[f"{REG}/flaky:1.0"].timed_out
    stops = [r.json()["scan_ids"] for r in sim.requests if r.path == "/deepfence/scan/stop/vulnerability"]
    # Only flaky's scan is this run's: the stuck one was joined from the first run and keeps running.
    assert stops == [[by_name[f"{REG}/flaky:1.0"].scan_id]]


def test_hostile_statuses_ids_and_error_bodies_are_neutralised_in_the_log() -> None:
    sim = ConsoleSimulator()
    hostile = "\x1b[2J\x1b[31m##vso[task.setvariable variable=GATE]passed\n::add-mask::x"
    sim.inject(START, 500, body={"message": hostile, "error_fields": None, "error_index": None})
    code, out, err = run_app(settings_for(images(f"{REG}/app:1.4.2")), sim)
    assert code == ExitCode.SCAN_INCOMPLETE
    for line in (out + err).splitlines():
        assert "\x1b" not in line and "##vso[" not in line and not line.lstrip().startswith("::"), line
    sim = ConsoleSimulator()
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(settings_for(images(f"{REG}/stuck:1.0"), timeout="5s"),
               transport=HostileStatuses(sim), stdout=stdout, stderr=stderr, sleep=lambda _: None)
    assert code == ExitCode.TIMED_OUT
    assert "spoofed" in stderr.getvalue()  # shown, but inert
    for line in (stdout.getvalue() + stderr.getvalue()).splitlines():
        assert "\x1b" not in line and not line.lstrip().startswith("::"), line


class HostileStatuses(httpx.BaseTransport):
    """The simulator, with status replies whose status and message try to steer the CI log."""

    def __init__(self, sim: ConsoleSimulator) -> None:
        self.inner = httpx.WSGITransport(app=sim)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != STATUS:
            return response
        response.read()
        data = json.loads(response.content)
        for info in data["statuses"].values():
            info["status"] = info["status"] + "\n::error::spoofed\x1b[31m"
            info["status_message"] = "\r::add-mask::x ##vso[task.complete result=Succeeded]"
        return httpx.Response(200, json=data)


def test_every_package_of_a_shared_cve_must_land_before_the_gate() -> None:
    from ci_scan.models import Finding, Severity
    from ci_scan.scan import _not_landed
    from ci_scan.wire import SbomEntry

    sbom = [SbomEntry("openssl", "3.0.2", "CVE-1"), SbomEntry("libssl3", "3.0.2-0ubuntu1", "CVE-1"),
            SbomEntry("zlib1g", "1:1.2.11", "CVE-2"), SbomEntry("bash", "5.1", "")]
    openssl = Finding("vulnerability", "CVE-1", Severity.LOW, "openssl:3.0.2")
    libssl = Finding("vulnerability", "CVE-1", Severity.CRITICAL, "libssl3:3.0.2-0ubuntu1")
    zlib = Finding("vulnerability", "CVE-2", Severity.HIGH, "zlib1g:1:1.2.11")
    assert _not_landed(sbom, [openssl, zlib]) == ["CVE-1 in libssl3"]
    assert _not_landed(sbom, [openssl, libssl]) == ["CVE-2 in zlib1g"]
    assert _not_landed(sbom, [openssl, libssl, zlib]) == []


def test_findings_still_landing_are_waited_for() -> None:
    """The first results reply lacks findings the SBOM names: the gate waits for the next round."""
    full = make_scanner(ConsoleSimulator(matching_polls=0)).scan_images([ImageRef.parse(f"{REG}/app:1.4.1")])
    assert full.targets[0].findings
    sim = ConsoleSimulator(matching_polls=0)
    partial = {"scan_id": "x", "severity_counts": {}, "vulnerabilities": []}
    sim.inject("/deepfence/scan/results/vulnerability", 200, body=partial, times=1)
    sim.inject("/deepfence/scan/results/count/vulnerability", 200, body={"count": 0}, times=1)
    messages: list[str] = []
    result = make_scanner(sim, messages=messages).scan_images([ImageRef.parse(f"{REG}/app:1.4.1")])
    assert len(result.targets[0].findings) == len(full.targets[0].findings)
    assert any("have not landed yet" in m for m in messages)


def test_many_targets_get_a_progress_line_per_round_not_per_target() -> None:
    sim = ConsoleSimulator(default_dataset(extra_images=100))
    bulk = sim.dataset.registries[-1]
    refs = [f"bulk.example.com/{image.repository}:latest" for image in bulk.images if "latest" in image.tags][:12]
    result, messages = scan_images(sim, *refs)
    assert len(result.targets) == 12
    assert "Started 12 scan(s)" in messages
    assert not [m for m in messages if m.startswith(("Found ", "Fetched ")) or " started for " in m]
    rounds = [m for m in messages if m.startswith("Scans after ")]
    assert rounds and rounds[-1].endswith("; 12 of 12 done")
    few, few_messages = scan_images(ConsoleSimulator(default_dataset(extra_images=100)), *refs[:3])
    assert sum(m.startswith("Found ") for m in few_messages) == 3


def test_repository_names_too_many_for_one_request_are_split_over_starts() -> None:
    from ci_scan.scan import MAX_NAMES_BYTES, _registry_filters

    names = [f"team/service-with-a-rather-long-name-{i:06d}" for i in range(40_000)]
    filters = _registry_filters("recent", [], names)
    assert len(filters) >= 2
    sent = [n for f in filters if f for n in f["docker_image_name"]]
    assert sent == names
    assert all(f and len(json.dumps(f).encode()) < MAX_NAMES_BYTES + 100 for f in filters)
    assert all(f and f["docker_image_tag"] == ["recent"] for f in filters)
    assert _registry_filters("all", [], names) == [None]
    one = [{"docker_image_name": ["team/a"], "docker_image_tag": ["all"]}]
    assert _registry_filters("all", ["team/a"], names) == one


def test_findings_that_land_after_the_sbom_check_are_waited_for() -> None:
    """The runtime SBOM names one CVE per package: a finding it does not name can still be on its way."""
    done = ConsoleSimulator()
    full = make_scanner(done).scan_images([ImageRef.parse(f"{REG}/app:1.4.1")]).targets[0]
    scan_id = full.scan_id
    with ConsoleClient(URL, ADMIN_TOKEN, transport=httpx.WSGITransport(app=done)) as client:
        named = {(e.cve_id, f"{e.package}:{e.version}") for e in client.runtime_sbom(scan_id) or []}
    page = [r for r in done.requests if r.path == "/deepfence/scan/results/vulnerability"][-1]
    with httpx.Client(transport=httpx.WSGITransport(app=done), base_url=URL) as raw:  # the real reply...
        body = raw.post(page.path, content=page.body, headers={"Authorization": page.headers["authorization"],
                                                               "Content-Type": "application/json"}).json()
    # ...minus one finding that the SBOM does not name
    late = next(v for v in body["vulnerabilities"] if (v["cve_id"], v["cve_caused_by_package"]) not in named)
    body["vulnerabilities"] = [v for v in body["vulnerabilities"] if v is not late]
    body["severity_counts"] = {}
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/results/vulnerability", 200, body=body, times=1)
    sim.inject("/deepfence/scan/results/count/vulnerability", 200, body={"count": len(body["vulnerabilities"])},
               times=1)  # the first fetch's own count; by the settle check the late finding has landed
    result = make_scanner(sim).scan_images([ImageRef.parse(f"{REG}/app:1.4.1")]).targets[0]
    assert len(result.findings) == len(full.findings)
    assert late["cve_id"] in {f.rule_id for f in result.findings}
    fetches = [r for r in sim.requests if r.path == "/deepfence/scan/results/vulnerability"]
    assert len(fetches) == 2  # fetched again once the count moved
    without_wait, _ = scan_images(ConsoleSimulator(), f"{REG}/app:1.4.1", settle_time=0.0)
    assert without_wait.targets[0].findings


class FailingStart(httpx.BaseTransport):
    """The simulator, except that every start after the first answers 500."""

    def __init__(self, sim: ConsoleSimulator) -> None:
        self.inner, self.starts = httpx.WSGITransport(app=sim), 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == START:
            self.starts += 1
            if self.starts > 1:
                return httpx.Response(500, json={"message": "deadlock", "error_fields": None, "error_index": None})
        return self.inner.handle_request(request)


def test_a_failed_restart_keeps_the_verdicts_already_reached() -> None:
    from ci_scan.kinds import VULNERABILITY

    sim = ConsoleSimulator()
    node = sim.dataset.image("team/stuck", "1.0").node_id
    with ConsoleClient(URL, ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim)) as other:
        (reply,) = other.start_scans(VULNERABILITY, [(node, "image")], ["base"])
        for _ in range(2):
            other.scan_statuses(VULNERABILITY, reply.scan_ids)
        other.stop_scans(VULNERABILITY, reply.scan_ids)  # CANCEL_PENDING: the next run joins a dying scan
    transport = FailingStart(sim)
    result = make_scanner(sim, transport=transport).scan_images(
        [ImageRef.parse(f"{REG}/app:1.4.2"), ImageRef.parse(f"{REG}/stuck:1.0")])
    by_name = {t.target.name: t for t in result.targets}
    assert transport.starts == 2
    assert "no new one could be started" in by_name[f"{REG}/stuck:1.0"].error
    assert len(by_name[f"{REG}/app:1.4.2"].findings) == 45
    assert decide(result, Policy()).exit_code == ExitCode.GATE_FAILED


def test_reuse_goes_by_the_consoles_clock_not_the_runners() -> None:
    moment = [1_800_000_000.0]
    sim = ConsoleSimulator(clock=lambda: moment[0])
    transport = DatedTransport(sim, lambda: moment[0])
    first = make_scanner(sim, transport=transport).scan_images([ImageRef.parse(f"{REG}/app:1.4.2")])
    moment[0] += 3 * 3600
    time = FakeTime()
    client = ConsoleClient(URL, ADMIN_TOKEN, transport=transport, sleep=time.sleep)
    behind = Scanner(client, ScanOptions(reuse_within=60.0), lambda _: None, clock=time.clock, sleep=time.sleep,
                     wall_clock=lambda: moment[0] - 3 * 3600)  # the runner's clock is 3 hours behind
    second = behind.scan_images([ImageRef.parse(f"{REG}/app:1.4.2")])
    assert second.targets[0].scan_id != first.targets[0].scan_id
    assert not second.targets[0].notes
