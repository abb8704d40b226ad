"""Every request the real client sends, and every reply it reads, is valid against the console's spec."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ci_scan.app import run
from ci_scan.config import ExistingScans, ImageScan, NodeScan, RegistryScan, Settings, Sweep
from ci_scan.errors import ExitCode
from ci_scan.models import ImageRef
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, default_dataset
from tests.conftest import FakeTime
from tests.contract import CheckedTransport, SpecContract

Request = ImageScan | RegistryScan | ExistingScans | NodeScan | Sweep


def gate(image: str | Request, contract: SpecContract, sim: ConsoleSimulator | None = None,
         **options: Any) -> tuple[ExitCode, CheckedTransport]:
    transport = CheckedTransport(sim or ConsoleSimulator(), contract)
    request = ImageScan((ImageRef.parse(image),)) if isinstance(image, str) else image
    policy = {key: options.pop(key) for key in list(options) if key == "fail_on"}
    settings = Settings.build(console_url="https://console.test", api_token=ADMIN_TOKEN, request=request,
                              policy=policy, **options)
    time = FakeTime()
    code = run(settings, transport=transport, stdout=io.StringIO(), stderr=io.StringIO(), clock=time.clock,
               sleep=time.sleep)
    return code, transport


@pytest.mark.parametrize(
    ("image", "options", "code"),
    [
        ("registry.example.com/team/app:1.4.2", {}, ExitCode.GATE_FAILED),
        ("registry.example.com/team/app:1.4.1", {"fail_on": "high"}, ExitCode.PASSED),
        ("registry.example.com/team/app:1.4.2", {"page_size": 10, "fail_on": "none"}, ExitCode.PASSED),
        ("registry.example.com/team/fresh:2.0", {"sync": True}, ExitCode.PASSED),
        ("registry.example.com/team/app:0.0.1", {}, ExitCode.SCAN_INCOMPLETE),
        ("registry.example.com/team/broken:1.0", {}, ExitCode.SCAN_INCOMPLETE),
        ("registry.example.com/team/stuck:1.0", {"timeout": "20s"}, ExitCode.TIMED_OUT),
        ("acme/app:2.0", {}, ExitCode.PASSED),
        ("registry.example.com/team/app:1.4.2", {"scan_type": "vulnerability,secret,malware", "fail_on": "none"},
         ExitCode.PASSED),
        ("registry.example.com/team/broken:1.0", {"scan_type": "secret,malware"}, ExitCode.SCAN_INCOMPLETE),
    ],
)
def test_conversations_follow_the_spec(contract: SpecContract, image: str, options: dict[str, Any],
                                       code: ExitCode) -> None:
    before = contract.checked
    result, transport = gate(image, contract, **options)
    assert result == code
    assert contract.checked - before == len(transport.paths)
    assert {"/deepfence/auth/token", "/deepfence/registryaccount"} <= set(transport.paths)
    for kind in str(options.get("scan_type", "")).split(","):
        if kind:  # each kind is started; a completed one's findings are fetched
            fetched = {f"/deepfence/scan/results/{kind}"} if code == ExitCode.PASSED else set()
            assert {f"/deepfence/scan/start/{kind}", *fetched} <= set(transport.paths)


def test_digest_lookup_and_token_refresh_follow_the_spec(contract: SpecContract) -> None:
    dataset = default_dataset()
    digest = dataset.image("team/app", "1.4.2").digest
    sim = ConsoleSimulator(dataset, access_token_uses=2)
    code, transport = gate(f"registry.example.com/team/app@{digest}", contract, sim)
    assert code == ExitCode.GATE_FAILED
    assert "/deepfence/auth/token/refresh" in transport.paths


def _refs(*names: str) -> ImageScan:
    return ImageScan(tuple(ImageRef.parse(f"registry.example.com/team/{n}") for n in names))


@pytest.mark.parametrize(
    ("request_", "options", "code"),
    [
        (_refs("app:1.4.2", "clean:1.0", "multiarch:1.0", "broken:1.0"), {}, ExitCode.GATE_FAILED),
        (_refs("hostile:1.0", "contradictory:1.0"), {"fail_on": "none"}, ExitCode.SCAN_INCOMPLETE),
        (_refs("never-matched:1.0"), {"timeout": "10m"}, ExitCode.SCAN_INCOMPLETE),
        (RegistryScan("bulk-registry", "recent"), {"fail_on": "none"}, ExitCode.PASSED),
        (RegistryScan("example-registry", "all", ("team/app", "team/clean")), {}, ExitCode.GATE_FAILED),
        (NodeScan("host", ("build-agent-1", "web-prod-1", "legacy-box")), {"scan_type": "vulnerability,secret"},
         ExitCode.GATE_FAILED),
        (NodeScan("container", ("nginx-frontend", "redis-cache")), {}, ExitCode.GATE_FAILED),
        (Sweep(("host", "container", "image")), {"fail_on": "none"}, ExitCode.SCAN_INCOMPLETE),
    ],
    ids=["images", "hostile", "never-matched", "registry-recent", "registry-all", "hosts", "containers", "sweep"],
)
def test_many_target_conversations_follow_the_spec(contract: SpecContract, request_: Request,
                                                   options: dict[str, object], code: ExitCode) -> None:
    before = contract.checked
    result, transport = gate(request_, contract, ConsoleSimulator(default_dataset(extra_images=40)), **options)
    assert result == code
    assert contract.checked - before == len(transport.paths)
    starts = transport.paths.count("/deepfence/scan/start/vulnerability")
    if isinstance(request_, Sweep):  # a start per type, and per registry for images
        assert 3 <= starts <= 2 + len(ConsoleSimulator(default_dataset(extra_images=40)).dataset.registries)
    else:
        assert starts == 1
    assert "/deepfence/scan/sbom" in transport.paths


def test_existing_scans_and_reuse_follow_the_spec(contract: SpecContract) -> None:
    sim = ConsoleSimulator()
    code, first = gate("registry.example.com/team/app:1.4.2", contract, sim)
    assert code == ExitCode.GATE_FAILED
    scan_id = sim.dataset.image("team/app", "1.4.2").latest_scan_id
    code, transport = gate(ExistingScans((scan_id,)), contract, sim)
    assert code == ExitCode.GATE_FAILED and "/deepfence/scan/start/vulnerability" not in transport.paths
    code, transport = gate("registry.example.com/team/app:1.4.2", contract, sim, reuse_within="1h")
    assert code == ExitCode.GATE_FAILED
    assert "/deepfence/scan/list/vulnerability" in transport.paths
    assert "/deepfence/scan/start/vulnerability" not in transport.paths
