"""The recorded wire conversations: replayed through the real client, and checked against the spec.

Re-record with `python -m tests.cassettes.record` when the conversation changes on purpose.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ci_scan.app import run
from ci_scan.config import Settings
from tests.cassettes.record import CASES, HERE, PLACEHOLDER_API_TOKEN, recorder, request_for
from tests.conftest import FakeTime
from tests.contract import SpecContract

CASSETTES = sorted(HERE.glob("*.yaml"))


def interactions(path: Path) -> list[dict[str, Any]]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    found: list[dict[str, Any]] = data["interactions"]
    return found


def test_every_case_has_its_cassette() -> None:
    assert sorted(p.stem for p in CASSETTES) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_replay_gives_the_recorded_verdict(name: str, tmp_path: Path) -> None:
    images, fail_on, expected = CASES[name]
    settings = Settings.build(console_url="http://127.0.0.1:9", api_token=PLACEHOLDER_API_TOKEN,
                              request=request_for(images), policy={"fail_on": fail_on}, max_parallel=1, settle_time="0",
                              reports={"json": str(tmp_path / "report.json")})
    time = FakeTime()
    with recorder().use_cassette(f"{name}.yaml", record_mode="none", allow_playback_repeats=False,
                                 match_on=["method", "path", "body"]) as cassette:
        code = run(settings, stdout=io.StringIO(), stderr=io.StringIO(), clock=time.clock, sleep=time.sleep)
        assert cassette.all_played, "the client made fewer requests than recorded"
    assert code == expected
    report = json.loads((tmp_path / "report.json").read_text())
    recorded = (HERE / f"{name}.yaml").read_text()
    assert len(report["targets"]) == len(images)
    assert all(target["scan"]["id"] in recorded for target in report["targets"])


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_cassettes_follow_the_spec(path: Path, contract: SpecContract) -> None:
    recorded = interactions(path)
    assert len(recorded) >= 8
    for exchange in recorded:
        req, resp = exchange["request"], exchange["response"]
        headers = {k: v[0] for k, v in req["headers"].items()}
        request = httpx.Request(req["method"], req["uri"], headers=headers, content=(req["body"] or "").encode())
        body = resp["body"]["string"]
        response = httpx.Response(
            resp["status"]["code"],
            headers={k: v[0] for k, v in resp["headers"].items()},
            content=body if isinstance(body, bytes) else body.encode(),
            request=request,
        )
        contract.check(response, request_too=True)


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_cassettes_hold_no_secret(path: Path) -> None:
    text = path.read_text()
    from ci_scan.simulator import ADMIN_TOKEN

    assert ADMIN_TOKEN not in text
    assert "eyJ" not in text  # no JWT of any kind
    assert {line.strip() for line in text.splitlines() if "Bearer" in line} == {"- Bearer TOKEN-REDACTED"}
