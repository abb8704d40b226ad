"""The whole lifecycle through the real client and app, against the simulator in-process."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_scan.app import run
from ci_scan.client import ConsoleClient
from ci_scan.config import ImageScan, Settings
from ci_scan.errors import ExitCode, TargetNotFound
from ci_scan.kinds import VULNERABILITY
from ci_scan.models import ImageRef, TargetResult
from ci_scan.scan import Scanner, ScanOptions
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, Dataset, Image, Registry, default_dataset
from tests.conftest import FakeTime

URL = "https://console.test"
REG = "registry.example.com/team"


def scanner(sim: ConsoleSimulator, time: FakeTime, messages: list[str], **options: Any) -> Scanner:
    client = ConsoleClient(URL, ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim), sleep=time.sleep)
    return Scanner(client, ScanOptions(**options), messages.append,
                   clock=time.clock, sleep=time.sleep)


def scan(ref: str, sim: ConsoleSimulator | None = None,
         **options: Any) -> tuple[TargetResult, list[str], FakeTime]:
    time = FakeTime()
    messages: list[str] = []
    run = scanner(sim or ConsoleSimulator(), time, messages, **options).scan_images([ImageRef.parse(ref)])
    assert len(run.targets) == 1
    return run.targets[0], messages, time


def images(ref: str) -> ImageScan:
    return ImageScan((ImageRef.parse(ref),))


def test_polls_come_every_tenth_of_the_time_waited_between_the_first_interval_and_the_cap() -> None:
    sim = ConsoleSimulator()
    time = FakeTime()
    messages: list[str] = []
    run = scanner(sim, time, messages, timeout=300, poll_initial=2, poll_max=15).scan_images(
        [ImageRef.parse(f"{REG}/stuck:1.0")])
    assert run.targets[0].timed_out
    waited, expected = 0.0, []
    while waited < 300:
        pause = min(max(2.0, min(0.1 * waited, 15.0)), 300 - waited)
        expected.append(pause)
        waited += pause
    assert time.sleeps == pytest.approx(expected)
    assert time.sleeps[:10] == [2] * 10 and max(time.sleeps) == 15  # 2 s until 20 s, then 10%, capped
    assert 40 <= len(time.sleeps) <= 50  # about one status check per 6 s over five minutes


def test_heartbeat_lines_while_the_status_does_not_change() -> None:
    sim, time = ConsoleSimulator(), FakeTime()
    messages: list[str] = []
    scanner(sim, time, messages, timeout=300, poll_max=15, heartbeat=60).scan_images(
        [ImageRef.parse(f"{REG}/stuck:1.0")])
    beats = [m for m in messages if m.startswith("Still waiting for 1 scan(s)") and m.endswith("(IN_PROGRESS)")]
    assert 3 <= len(beats) <= 5
    assert len([m for m in messages if m.startswith("Scan status")]) == 2  # STARTING, IN_PROGRESS


def test_timeout_stops_the_scan_it_started_unless_told_not_to() -> None:
    sim = ConsoleSimulator()
    result, messages, _ = scan(f"{REG}/stuck:1.0", sim, timeout=30, cancel=False)
    assert result.timed_out and result.status == "IN_PROGRESS"
    assert any(m.startswith("Timed out after 30s with 1 scan(s) still running") for m in messages)
    assert not [r for r in sim.requests if r.path.endswith("/scan/stop/vulnerability")]
    sim = ConsoleSimulator()
    result, messages, _ = scan(f"{REG}/stuck:1.0", sim, timeout=30)
    stops = [r for r in sim.requests if r.path.endswith("/scan/stop/vulnerability")]
    assert len(stops) == 1 and stops[0].json() == {"scan_ids": [result.scan_id], "scan_type": "VulnerabilityScan"}
    assert f"ci-scan asked the console to stop scan {result.scan_id}" in result.notes


def test_a_second_run_joins_the_scan_already_running() -> None:
    sim = ConsoleSimulator()
    first, _, _ = scan(f"{REG}/stuck:1.0", sim, timeout=10, cancel=False)
    second, _, _ = scan(f"{REG}/stuck:1.0", sim, timeout=10, cancel=False)
    assert first.timed_out and second.timed_out
    assert first.scan_id and second.scan_id == first.scan_id


def test_all_20000_findings_arrive_in_ordered_pages() -> None:
    sim = ConsoleSimulator()
    result, messages, _ = scan(f"{REG}/big:1.0", sim)
    assert len(result.findings) == 20000
    pages = [r.json() for r in sim.requests if r.path == "/deepfence/scan/results/vulnerability"]
    assert [p["window"] for p in pages] == [{"offset": i * 1000, "size": 1000} for i in range(21)]
    assert all(p["fields_filter"]["order_filter"]["order_fields"] for p in pages)
    counts = result.counts()
    assert {s.label: n for s, n in counts.items()} == {
        "critical": 250, "high": 2400, "medium": 8000, "low": 6500, "unknown": 2750}
    assert len(result.masked) == 100
    assert not result.warnings


def test_small_pages_and_a_page_size_that_divides_the_total() -> None:
    sim = ConsoleSimulator()
    result, _, _ = scan(f"{REG}/app:1.4.2", sim, page_size=9)
    assert len(result.findings) == 45
    windows = [r.json()["window"]["offset"] for r in sim.requests if r.path.endswith("results/vulnerability")]
    assert windows == [0, 9, 18, 27, 36, 45]


def test_expired_access_tokens_are_renewed_mid_scan() -> None:
    sim = ConsoleSimulator(access_token_uses=3)
    result, _, _ = scan(f"{REG}/app:1.4.2", sim)
    assert len(result.findings) == 45
    assert any(r.path == "/deepfence/auth/token/refresh" for r in sim.requests)


def test_transient_console_errors_are_retried() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/status/vulnerability", 503, times=2)
    sim.inject("/deepfence/scan/results/vulnerability", 409, times=1)
    result, _, _ = scan(f"{REG}/app:1.4.1", sim)
    assert len(result.findings) == 29


def test_a_malformed_status_reply_is_reported() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/status/vulnerability", 200, body={"statuses": {"x": {"status": "COMPLETE"}}},
               times=2)
    result, _, _ = scan(f"{REG}/app:1.4.2", sim)
    assert "status reply does not mention scan" in result.error and not result.findings
    polls = [r.json() for r in sim.requests if r.path.endswith("/scan/status/vulnerability")]
    assert polls[0]["bulk_scan_id"] and polls[1] == {"scan_ids": [result.scan_id], "bulk_scan_id": ""}


def test_a_scan_missing_from_its_bulk_reply_is_asked_for_by_id() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/status/vulnerability", 200, body={"statuses": {}}, times=1)
    result, _, _ = scan(f"{REG}/app:1.4.2", sim)
    assert result.completed and len(result.findings) == 45


def test_images_are_found_by_digest() -> None:
    dataset = default_dataset()
    digest = dataset.image("team/app", "1.4.1").digest
    result, messages, _ = scan(f"{REG}/app@{digest}", ConsoleSimulator(dataset))
    assert result.target.node_id == digest.removeprefix("sha256:")
    assert result.target.digest == digest


def test_unknown_digest_lists_the_known_tags() -> None:
    with pytest.raises(TargetNotFound, match=r"no digest sha256:0+.*known tags: 1\.4\.1, 1\.4\.2, latest"):
        scan(f"{REG}/app@sha256:{'0' * 64}")


def _twin_registries() -> Dataset:
    dataset = default_dataset()
    dataset.registries.append(Registry(
        9, "example-mirror", "docker_private_registry",
        {"docker_registry_url": "https://registry.example.com", "docker_username": "mirror"},
        [Image("team/app", ["1.4.2"], {"high": 1})]))
    return dataset


def test_several_matching_registries_need_a_choice() -> None:
    settings = Settings.build(console_url=URL, api_token=ADMIN_TOKEN, request=images(f"{REG}/app:1.4.2"))
    err = io.StringIO()
    code = run(settings, transport=httpx.WSGITransport(app=ConsoleSimulator(_twin_registries())),
               stderr=err, stdout=io.StringIO(), sleep=lambda _: None)
    assert code == ExitCode.USAGE
    assert "matches 2 registry accounts" in err.getvalue() and "--registry" in err.getvalue()
    chosen = Settings.build(console_url=URL, api_token=ADMIN_TOKEN, request=images(f"{REG}/app:1.4.2"),
                            registry="example-mirror", policy={"fail_on": "high"})
    code = run(chosen, transport=httpx.WSGITransport(app=ConsoleSimulator(_twin_registries())),
               stderr=io.StringIO(), stdout=io.StringIO(), sleep=lambda _: None)
    assert code == ExitCode.GATE_FAILED


def test_app_writes_reports_when_the_gate_fails(tmp_path: Path) -> None:
    settings = Settings.build(console_url=URL, api_token=ADMIN_TOKEN, request=images(f"{REG}/app:1.4.2"),
                              reports={"json": str(tmp_path / "r.json"), "junit": str(tmp_path / "j.xml")})
    out, err = io.StringIO(), io.StringIO()
    code = run(settings, transport=httpx.WSGITransport(app=ConsoleSimulator()), stdout=out, stderr=err,
               sleep=lambda _: None)
    assert code == ExitCode.GATE_FAILED
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["gate"]["failing"] == 3
    assert (tmp_path / "j.xml").read_text().count("<failure") == 4
    assert "Gate FAILED" in out.getvalue() and ADMIN_TOKEN not in out.getvalue() + err.getvalue()


def test_json_to_stdout_moves_the_summary_to_stderr() -> None:
    settings = Settings.build(console_url=URL, api_token=ADMIN_TOKEN, request=images(f"{REG}/clean:1.0"),
                              reports={"json": "-"})
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        code = run(settings, transport=httpx.WSGITransport(app=ConsoleSimulator()), stderr=err,
                   sleep=lambda _: None)
    assert code == ExitCode.PASSED
    assert json.loads(out.getvalue())["counts"]["total"] == 0
    assert "Gate PASSED" in err.getvalue()


def _first_findings(count: int) -> dict[str, object]:
    """A genuine results page of `count` findings of team/app:1.4.2, as the console sends it."""
    sim = ConsoleSimulator()
    result, _, _ = scan(f"{REG}/app:1.4.2", sim)
    replies = [r for r in sim.requests if r.path == "/deepfence/scan/results/vulnerability"]
    assert replies
    client = httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=URL)
    token = client.post("/deepfence/auth/token", json={"api_token": ADMIN_TOKEN}).json()["access_token"]
    body = replies[0].json() | {"window": {"offset": 0, "size": count}}
    page: dict[str, object] = client.post("/deepfence/scan/results/vulnerability", json=body,
                                          headers={"Authorization": f"Bearer {token}"}).json()
    return page


def test_unstable_paging_falls_back_to_one_unpaged_request() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/results/vulnerability", 200, times=1, body=_first_findings(5))
    result, messages, _ = scan(f"{REG}/app:1.4.2", sim, page_size=9)
    assert len(result.findings) == 45
    windows = [r.json()["window"] for r in sim.requests if r.path.endswith("results/vulnerability")]
    assert windows == [{"offset": 0, "size": 9}, {"offset": 0, "size": 0}]
    assert any("fetching them in one request" in m for m in messages)
    assert not result.warnings


def test_a_console_without_counts_still_gates_with_a_warning() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/results/count/vulnerability", 404, times=1)
    result, _, _ = scan(f"{REG}/app:1.4.2", sim)
    assert len(result.findings) == 45
    assert [w for w in result.warnings if "could not count" in w]


def test_status_checks_survive_a_console_restart_but_not_a_bad_request() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/status/vulnerability", 500, times=3)
    result, messages, _ = scan(f"{REG}/app:1.4.1", sim)
    assert len([m for m in messages if m.startswith("Status check failed")]) == 3
    sim.inject("/deepfence/scan/status/vulnerability", 400, times=1)
    result, _, _ = scan(f"{REG}/app:1.4.1", sim)
    assert "HTTP 400" in result.error and not result.completed
    sim.inject("/deepfence/scan/status/vulnerability", 500, times=50)
    result, messages, _ = scan(f"{REG}/app:1.4.1", sim)
    assert "HTTP 500" in result.error
    assert len([m for m in messages if m.startswith("Status check failed")]) == 5


class SyncNotStartedYet(httpx.BaseTransport):
    """The simulator, except that the first registry check after a sync request says 'not syncing'."""

    def __init__(self, sim: ConsoleSimulator) -> None:
        self.sim = sim
        self.inner = httpx.WSGITransport(app=sim)
        self.sync_requested = self.faked = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sync"):
            self.sync_requested = True
        elif (self.sync_requested and not self.faked and request.method == "GET"
              and request.url.path == "/deepfence/registryaccount"):
            self.faked = True
            return httpx.Response(200, json=[r.record(False) for r in self.sim.dataset.registries])
        return self.inner.handle_request(request)


def test_a_sync_not_yet_started_is_waited_for() -> None:
    sim = ConsoleSimulator()
    transport = SyncNotStartedYet(sim)
    time = FakeTime()
    messages: list[str] = []
    client = ConsoleClient(URL, ADMIN_TOKEN, transport=transport, sleep=time.sleep)
    run = Scanner(client, ScanOptions(sync=True), messages.append, clock=time.clock,
                  sleep=time.sleep).scan_images([ImageRef.parse(f"{REG}/fresh:2.0")])
    result = run.targets[0]
    assert transport.faked
    assert result.target.node_id == sim.dataset.image("team/fresh", "2.0").node_id
    assert len(result.findings) == 5


def test_a_token_that_may_not_sync_still_looks_the_image_up() -> None:
    from ci_scan.simulator import STANDARD_TOKEN

    time = FakeTime()

    messages: list[str] = []
    client = ConsoleClient(URL, STANDARD_TOKEN, transport=httpx.WSGITransport(app=ConsoleSimulator()),
                           sleep=time.sleep)
    scanner_ = Scanner(client, ScanOptions(sync=True), messages.append, clock=time.clock, sleep=time.sleep)
    with pytest.raises(TargetNotFound, match="no repository 'team/fresh'"):
        scanner_.scan_images([ImageRef.parse(f"{REG}/fresh:2.0")])
    assert any(m.startswith("Warning:") and "sync the registry" in m and "(admin)" in m for m in messages)


def test_listing_images_stops_on_a_console_that_ignores_the_window() -> None:
    dataset = default_dataset()
    registry = dataset.registries[0]
    image = dataset.image("team/app", "1.4.2")
    same_page = [image.record("")] * 100
    calls = []

    def console(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/deepfence/auth/token":
            return httpx.Response(200, json={"access_token": "a", "refresh_token": "r"})
        if path == "/deepfence/registryaccount":
            return httpx.Response(200, json=[registry.record(False)])
        calls.append(path)
        return httpx.Response(200, json=same_page)

    time = FakeTime()
    client = ConsoleClient(URL, ADMIN_TOKEN, transport=httpx.MockTransport(console), sleep=time.sleep)
    with pytest.raises(TargetNotFound, match="no digest"):
        Scanner(client, ScanOptions(), lambda _: None, clock=time.clock, sleep=time.sleep).scan_images(
            [ImageRef.parse(f"{REG}/app@sha256:{'0' * 64}")])
    assert len(calls) == 2


def test_a_scan_being_cancelled_is_not_joined() -> None:
    sim = ConsoleSimulator()
    node = default_dataset().image("team/app", "1.4.2").node_id
    with ConsoleClient(URL, ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim)) as other_run:
        (reply,) = other_run.start_scans(VULNERABILITY, [(node, "image")], ["base"])
        (first,) = reply.scan_ids
        for _ in range(2):  # STARTING, then IN_PROGRESS
            other_run.scan_statuses(VULNERABILITY, [first])
        other_run.stop_scans(VULNERABILITY, [first])
        assert other_run.scan_statuses(VULNERABILITY, [first])[first].status == "CANCEL_PENDING"
    result, messages, _ = scan(f"{REG}/app:1.4.2", sim)
    assert any("was being cancelled when this run joined it" in m for m in messages)
    assert result.scan_id != first
    assert len(result.findings) == 45


def test_a_stop_that_fails_still_reports_the_timeout() -> None:
    sim = ConsoleSimulator()
    sim.inject("/deepfence/scan/stop/vulnerability", 403)
    time = FakeTime()
    messages: list[str] = []
    run = scanner(sim, time, messages, timeout=20).scan_images(
        [ImageRef.parse(f"{REG}/stuck:1.0")])
    assert run.targets[0].timed_out
    assert any(m.startswith("Warning: could not stop the scans") for m in messages)


def test_a_completed_scan_carries_the_consoles_sbom_each_package_once() -> None:
    result, _, _ = scan(f"{REG}/app:1.4.2")
    assert result.completed and result.packages
    names = [(p.name, p.version) for p in result.packages]
    assert names == sorted(set(names)), "each package once, by name"
    openssl = [p for p in result.packages if p.licenses]
    assert openssl, "the simulator gives some packages a licence"
    found = {(f.package_name, f.package_version) for f in result.findings}
    assert found <= set(names), "every package a finding names is in the SBOM"
    assert all(p.locations for p in result.packages)


class StatusRewriter(httpx.BaseTransport):
    """The simulator, with every scan status its status replies give rewritten."""

    def __init__(self, sim: ConsoleSimulator, rewrite: Any) -> None:
        self.inner, self.rewrite = httpx.WSGITransport(app=sim), rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/deepfence/scan/status/" not in request.url.path or response.status_code != 200:
            return response
        response.read()
        body = json.loads(response.content)
        for info in (body.get("statuses") or {}).values():
            info["status"] = self.rewrite(info["status"])
        return httpx.Response(200, json=body)


def rewritten_scan(rewrite: Any, **options: Any) -> tuple[TargetResult, list[str], FakeTime]:
    time, messages = FakeTime(), list[str]()
    client = ConsoleClient(URL, ADMIN_TOKEN, transport=StatusRewriter(ConsoleSimulator(), rewrite), sleep=time.sleep)
    run = Scanner(client, ScanOptions(**options), messages.append, clock=time.clock, sleep=time.sleep).scan_images(
        [ImageRef.parse(f"{REG}/app:1.4.2")])
    return run.targets[0], messages, time


def test_statuses_are_read_whatever_their_case() -> None:
    result, _, _ = rewritten_scan(str.lower, settle_time=0)
    assert result.completed and result.findings


def test_an_unknown_status_is_said_once_waited_on_then_an_error() -> None:
    result, messages, time = rewritten_scan(lambda _: "QUEUED_FOR_AGENT", timeout=1800)
    warnings = [m for m in messages if "a status the console does not define" in m]
    assert len(warnings) == 1, messages
    assert result.error and "unknown status 'QUEUED_FOR_AGENT'" in result.error
    assert 180 <= time.now < 300, "minutes, not the whole --timeout"
