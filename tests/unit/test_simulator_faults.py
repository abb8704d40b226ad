"""The simulator's scripted faults: the grammar, which requests they hit, what they answer (in-process and
over real HTTP), the request log, the `simulator serve` options and the off-spec scan images."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import ci_scan.simulator
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, default_dataset, serve
from ci_scan.simulator.fault_replies import CHUNK, MIB, DropConnection, gzip_bomb
from ci_scan.simulator.faults import Fault, FaultPlan, parse_fault, parse_faults
from tests.contract import SpecContract
from tests.simulator.helpers import Console

STATUS = "/deepfence/scan/status/vulnerability"
RESULTS = "/deepfence/scan/results/vulnerability"
TOKEN = "/deepfence/auth/token"


@pytest.mark.parametrize(
    ("spec", "expected", "label", "status"),
    [
        (f"{STATUS}=http:503,times=3", Fault(STATUS, "http", 503, times=3), "http:503", 503),
        (f"{RESULTS}=retry-after:100000", Fault(RESULTS, "retry-after", 100000), "retry-after:100000", 429),
        (f"{RESULTS}=retry-after:5,status=503", Fault(RESULTS, "retry-after", 5, status=503), "retry-after:5", 503),
        (f"{TOKEN}=reset,times=2", Fault(TOKEN, "reset", times=2), "reset", 200),
        (f"{RESULTS}=trickle:0.5", Fault(RESULTS, "trickle", 0.5), "trickle:0.5", 200),
        (f"{RESULTS}=latency:3,after=2", Fault(RESULTS, "latency", 3, after=2), "latency:3", 200),
        (f"{RESULTS}=oversized:200", Fault(RESULTS, "oversized", 200), "oversized:200", 200),
        (f"{RESULTS}=gzip-bomb:100,always", Fault(RESULTS, "gzip-bomb", 100, times=0), "gzip-bomb:100", 200),
        (f"{RESULTS}=malformed,status=500", Fault(RESULTS, "malformed", status=500), "malformed", 500),
        (f"{RESULTS}=html", Fault(RESULTS, "html"), "html", 502),
        ("/deepfence/scan/*=html:504,times=0", Fault("/deepfence/scan/*", "html", 504, times=0), "html:504", 504),
        (f" {STATUS}=http:409 ", Fault(STATUS, "http", 409), "http:409", 409),
    ],
)
def test_specs_parse(spec: str, expected: Fault, label: str, status: int) -> None:
    fault = parse_fault(spec)
    assert fault == expected
    assert (fault.label, fault.answer_status) == (label, status)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "expected PATH=MODE"),
        ("/x", "expected PATH=MODE"),
        ("/x=", "expected PATH=MODE"),
        ("x=reset", "must start with '/'"),
        ("/a*b=reset", "'*' may only end the path"),
        ("/x=boom", "unknown mode 'boom' (one of http, retry-after, reset"),
        ("/x=http", "http needs an argument (http:STATUS)"),
        ("/x=http:abc", "http must be a number, not 'abc'"),
        ("/x=http:99", "from 200 to 599, not 99"),
        ("/x=http:503.5", "from 200 to 599, not 503.5"),
        ("/x=retry-after:1.5", "whole number of seconds, not 1.5"),
        ("/x=latency:-1", "number of seconds, not -1"),
        ("/x=trickle:nan", "finite number"),
        ("/x=oversized:0", "MiB from 1 to 4096, not 0"),
        ("/x=gzip-bomb:5000", "MiB from 1 to 4096"),
        ("/x=reset:3", "reset takes no argument"),
        ("/x=reset,times=-1", "times must be a whole number, not '-1'"),
        ("/x=reset,times=2,times=3", "times given twice"),
        ("/x=reset,always,times=3", "times given twice"),
        ("/x=reset,later", "unknown option 'later'"),
        ("/x=reset,status=500", "status= does not apply to reset"),
        ("/x=malformed,status=600", "status must be a status from 200 to 599"),
    ],
)
def test_bad_specs_say_what_is_wrong_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_fault(spec)
    text = str(raised.value)
    assert text.startswith(f"bad fault {spec!r}: ")
    assert message in text and "\n" not in text


def test_several_specs_in_one_text_split_on_semicolons() -> None:
    faults = parse_faults([f"{TOKEN}=reset;;{STATUS}=http:503 ; ", f"{RESULTS}=malformed"])
    assert [f.mode for f in faults] == ["reset", "http", "malformed"]


def test_times_after_and_always_count_matching_requests() -> None:
    plan = FaultPlan([Fault(STATUS, "http", 503, times=2, after=1), Fault(RESULTS, "reset", times=0)])
    hits = [plan.take(STATUS) for _ in range(5)]
    assert [f and f.label for f in hits] == [None, "http:503", "http:503", None, None]
    assert all(plan.take(RESULTS) for _ in range(4))
    assert plan.take("/deepfence/elsewhere") is None


def test_the_first_fault_given_wins_and_the_others_still_count() -> None:
    plan = FaultPlan([Fault(STATUS, "http", 503), Fault("/deepfence/scan/*", "http", 500, times=2)])
    assert [f and f.label for f in (plan.take(STATUS), plan.take(STATUS), plan.take(STATUS))] == [
        "http:503", "http:500", None,
    ]  # fmt: skip


def test_prefixes_leave_ping_alone_unless_named() -> None:
    plan = FaultPlan([Fault("/*", "reset", times=0)])
    assert plan.take("/deepfence/ping") is None and plan.take(TOKEN) is not None
    assert FaultPlan([Fault("/deepfence/ping", "reset")]).take("/deepfence/ping") is not None


# In-process answers, through httpx's WSGI transport.


class FakeSleep:
    """Records the sleeps; `during` runs in another thread at each one (to show no lock is held)."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.during: Any = None

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.during is not None:
            worker = threading.Thread(target=self.during)
            worker.start()
            worker.join(timeout=5)
            assert not worker.is_alive(), "the simulator's lock was held while sleeping"


def client(sim: ConsoleSimulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://console.test")


def logged_in(sim: ConsoleSimulator) -> httpx.Client:
    http = client(sim)
    token = http.post(TOKEN, json={"api_token": ADMIN_TOKEN}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def call(sim: ConsoleSimulator, path: str, method: str = "GET") -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """The raw WSGI exchange: status line, headers and the body's chunks as the app yields them."""
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.extend((status, headers))

    chunks = list(sim({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    return seen[0], seen[1], chunks


def test_http_faults_answer_the_console_error_shape_and_touch_nothing() -> None:
    sim = ConsoleSimulator(faults=[f"{TOKEN}=http:503,times=2"])
    with client(sim) as http:
        answers = [http.post(TOKEN, json={"api_token": ADMIN_TOKEN}) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].json() == {"message": "simulated failure 503", "error_fields": None, "error_index": None}
    assert answers[0].headers["content-type"] == "application/json"


def test_retry_after_malformed_and_html() -> None:
    sim = ConsoleSimulator(faults=["/deepfence/a=retry-after:100000", "/deepfence/b=retry-after:7,status=503",
                                   "/deepfence/c=malformed", "/deepfence/d=html"])  # fmt: skip
    with client(sim) as http:
        limited, unavailable, malformed, page = (http.get(f"/deepfence/{x}") for x in "abcd")
    assert (limited.status_code, limited.headers["retry-after"], limited.json()["message"]) == (
        429, "100000", "simulated failure 429",
    )  # fmt: skip
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "7")
    assert (malformed.status_code, malformed.headers["content-type"]) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    assert (page.status_code, page.headers["content-type"]) == (502, "text/html")
    assert "<title>502 Bad Gateway</title>" in page.text and "nginx" in page.text


def test_oversized_bodies_are_valid_json_streamed_in_chunks() -> None:
    sim = ConsoleSimulator(faults=[f"{RESULTS}=oversized:3"])
    status, headers, chunks = call(sim, RESULTS, "POST")
    assert status == "200 OK" and ("Content-Length", str(3 * MIB)) in headers
    assert max(len(c) for c in chunks) <= CHUNK and len(chunks) > 3
    body = b"".join(chunks)
    assert len(body) == 3 * MIB and set(json.loads(body)["message"]) == {"x"}


def test_gzip_bombs_are_small_and_inflate_to_the_size_asked() -> None:
    sim = ConsoleSimulator(faults=[f"{RESULTS}=gzip-bomb:8"])
    _, headers, chunks = call(sim, RESULTS, "POST")
    compressed = b"".join(chunks)
    assert ("Content-Encoding", "gzip") in headers and ("Content-Length", str(len(compressed))) in headers
    assert len(compressed) < 16 * 1024
    inflated = gzip.decompress(compressed)
    assert len(inflated) == 8 * MIB and json.loads(inflated)["message"].startswith("xxx")
    assert gzip_bomb(8 * MIB) is gzip_bomb(8 * MIB)  # built once per size
    with client(ConsoleSimulator(faults=[f"{RESULTS}=gzip-bomb:2"])) as http:  # httpx inflates it
        assert len(http.post(RESULTS).content) == 2 * MIB


def test_latency_sleeps_outside_the_lock_then_answers_for_real() -> None:
    sleep = FakeSleep()
    sim = ConsoleSimulator(faults=[f"{TOKEN}=latency:3"], sleep=sleep)
    sleep.during = lambda: call(sim, "/deepfence/ping")
    with client(sim) as http:
        answer = http.post(TOKEN, json={"api_token": ADMIN_TOKEN})
    assert answer.status_code == 200 and "access_token" in answer.json()
    assert sleep.slept == [3]


def test_trickle_sends_the_real_body_a_byte_at_a_time_outside_the_lock() -> None:
    sleep = FakeSleep()
    sim = ConsoleSimulator(faults=["/deepfence/ping=trickle:2"], sleep=sleep)
    sleep.during = lambda: call(sim, "/deepfence/nothing")
    status, headers, chunks = call(sim, "/deepfence/ping")
    assert (status, chunks, sleep.slept) == ("200 OK", [b"p", b"o", b"n", b"g"], [2, 2, 2])
    assert ("Content-Length", "4") in headers


def test_trickle_and_latency_also_send_injected_answers() -> None:
    sleep = FakeSleep()
    sim = ConsoleSimulator(faults=[f"{STATUS}=trickle:1"], sleep=sleep)
    sim.inject(STATUS, 200, body={"statuses": {}})
    _, _, chunks = call(sim, STATUS, "POST")
    assert b"".join(chunks) == b'{"statuses": {}}' and len(chunks) == 16


def test_faults_added_later_count_from_then_on() -> None:
    sim = ConsoleSimulator()
    with client(sim) as http:
        assert http.get("/deepfence/ping").status_code == 200
        sim.add_fault("/deepfence/ping=http:500,after=1")
        assert [http.get("/deepfence/ping").status_code for _ in range(3)] == [200, 500, 200]


def test_a_reset_in_process_raises_a_connection_reset() -> None:
    sim = ConsoleSimulator(faults=[f"{TOKEN}=reset"])
    with client(sim) as http, pytest.raises(DropConnection) as raised:
        http.post(TOKEN, json={"api_token": ADMIN_TOKEN})
    assert isinstance(raised.value, ConnectionResetError)
    assert len(sim.requests) == 1


# Over real HTTP.


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "requests.jsonl"


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_reset_over_http_closes_the_connection_without_a_byte(log_file: Path) -> None:
    sim = ConsoleSimulator(faults=[f"{TOKEN}=reset,times=2"], request_log=log_file)
    with serve(sim) as running, httpx.Client(base_url=running.url) as http:
        for _ in range(2):
            with pytest.raises(httpx.TransportError):  # ReadError (reset) or RemoteProtocolError (no answer)
                http.post(TOKEN, json={"api_token": ADMIN_TOKEN})
        assert http.post(TOKEN, json={"api_token": ADMIN_TOKEN}).status_code == 200
    assert [(e["status"], e["fault"]) for e in entries(log_file)] == [(None, "reset"), (None, "reset"), (200, None)]


def test_trickle_and_latency_over_http() -> None:
    sim = ConsoleSimulator(faults=["/deepfence/ping=trickle:0.05", "/deepfence/ping=latency:0.1,after=1"])
    with serve(sim) as running, httpx.Client(base_url=running.url) as http:
        started = time.monotonic()
        with http.stream("GET", "/deepfence/ping") as trickled:
            chunks = trickled.iter_raw()
            first = next(chunks)
            assert (first, time.monotonic() - started < 0.1) == (b"p", True)  # headers and a byte at once
            assert first + b"".join(chunks) == b"pong"
        assert time.monotonic() - started >= 0.15
        late = http.get("/deepfence/ping")
    assert late.text == "pong" and late.elapsed.total_seconds() >= 0.1


def test_the_request_log_has_a_line_per_request_and_no_secrets(log_file: Path) -> None:
    sim = ConsoleSimulator(faults=[f"{STATUS}=http:503"], request_log=log_file)
    with serve(sim) as running, httpx.Client(base_url=running.url) as http:
        token = http.post(TOKEN, json={"api_token": ADMIN_TOKEN}).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        http.post(STATUS, json={"scan_ids": ["x"], "bulk_scan_id": ""})
        http.post(STATUS, json={"scan_ids": ["x"], "bulk_scan_id": ""})
        http.get("/deepfence/ping")
    lines = entries(log_file)
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in lines] == [
        ("POST", TOKEN, 200, None),
        ("POST", STATUS, 503, "http:503"),
        ("POST", STATUS, 404, None),
        ("GET", "/deepfence/ping", 200, None),
    ]
    assert all(set(e) == {"time", "method", "path", "status", "fault"} for e in lines)
    assert all(isinstance(e["time"], float) for e in lines) and lines[0]["time"] <= lines[-1]["time"]
    text = log_file.read_text()
    assert ADMIN_TOKEN not in text and token not in text and "scan_ids" not in text


# The `simulator serve` command.


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(ci_scan.simulator, "serve_forever", lambda *args, **kwargs: calls.append((args, kwargs)))
    yield calls


def serve_command(*args: str, env: dict[str, str] | None = None) -> Any:
    from ci_scan.cli import cli

    return CliRunner().invoke(cli, ["simulator", "serve", *args], env=env)


def test_serve_passes_faults_log_and_token_uses(served: list[Any], tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    result = serve_command("--fault", f"{STATUS}=http:503,times=3", "--fault", f"{TOKEN}=reset;{RESULTS}=malformed",
                           "--request-log", str(log), "--access-token-uses", "4")
    assert result.exit_code == 0, result.output
    [(args, kwargs)] = served
    assert [f.label for f in kwargs["faults"]] == ["http:503", "reset", "malformed"]
    assert (kwargs["request_log"], kwargs["access_token_uses"]) == (str(log), 4)
    assert log.exists()  # created at start, so a bad path fails at once


def test_serve_reads_faults_from_the_environment(served: list[Any]) -> None:
    env = {"CI_SCAN_SIMULATOR_FAULTS": f"{TOKEN}=reset,times=2;{RESULTS}=retry-after:100000",
           "CI_SCAN_SIMULATOR_ACCESS_TOKEN_USES": "2"}  # fmt: skip
    assert serve_command(env=env).exit_code == 0
    [(_, kwargs)] = served
    assert [f.label for f in kwargs["faults"]] == ["reset", "retry-after:100000"]
    assert kwargs["access_token_uses"] == 2


def test_serve_without_faults_keeps_the_three_argument_call(served: list[Any]) -> None:
    assert serve_command("--port", "0").exit_code == 0
    [(args, kwargs)] = served
    assert (args[:2], kwargs) == (("127.0.0.1", 0), {})
    assert "team/queued-remote" not in {i.repository for r in args[2].registries for i in r.images}


def test_serve_adds_the_fault_images_on_request(served: list[Any]) -> None:
    assert serve_command("--fault-images").exit_code == 0
    assert serve_command(env={"CI_SCAN_SIMULATOR_FAULT_IMAGES": "1"}).exit_code == 0
    for args, _ in served:
        assert args[2].image("team/queued-remote", "1.0").scenario == "unknown_status"


@pytest.mark.parametrize(
    "args",
    [
        ("--fault", "/x=boom"),
        ("--fault", "no-equals"),
        ("--fault", f"{STATUS}=http:503,times=x"),
        ("--request-log", "/nonexistent/dir/log.jsonl"),
        ("--access-token-uses", "0"),
    ],
)
def test_bad_serve_options_are_one_line_usage_errors(
    args: tuple[str, ...], served: list[Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ci_scan.cli import main

    monkeypatch.setattr(sys, "argv", ["ci-scan", "simulator", "serve", *args])
    for name in ("GITHUB_OUTPUT", "GITHUB_ACTIONS", "CI"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2 and served == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ci-scan: error: Invalid value for") and "Traceback" not in err


# The images whose scans leave the spec.


def test_the_fault_images_are_opt_in_and_report_an_undefined_status(contract: SpecContract) -> None:
    with pytest.raises(KeyError):
        default_dataset().image("team/queued-remote")
    console = Console(ConsoleSimulator(default_dataset(fault_images=True)), contract)
    console.login()
    listed = console.images(console.registry_id("example-registry")).json()  # still valid before any scan
    assert "team/queued-remote" in {image["docker_image_name"] for image in listed}
    scan_id = console.start_one("team/queued-remote", "1.0")
    with console.off_spec():  # QUEUED_REMOTE is not in the spec's enum
        seen = console.settle(scan_id)
    assert seen[:5] == ["STARTING", "QUEUED_REMOTE", "QUEUED_REMOTE", "IN_PROGRESS", "COMPLETE"]
    assert seen[-1] == "COMPLETE"
