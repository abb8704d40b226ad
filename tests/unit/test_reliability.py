"""What a run exits with when the console fails (`--on-error`, signals), and how it reaches the console
safely (plain http, CA bundles, --insecure, the poll floor)."""

from __future__ import annotations

import contextlib
import gzip
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ci_scan.client import ConsoleClient
from ci_scan.config import CA_VARIABLES, connection
from ci_scan.decision import Policy, decide
from ci_scan.errors import (
    CiScanError,
    ConfigError,
    ConsoleResponseError,
    ConsoleUnreachable,
    ExitCode,
    ScanTimeout,
    TlsError,
)
from ci_scan.hosts import is_loopback
from ci_scan.models import RunResult, Target, TargetResult
from tests.unit.test_config import _build

APP = Target(kind="image", node_id="n1", node_type="image", name="reg.io/app:1")
WEB = Target(kind="image", node_id="n2", node_type="image", name="reg.io/web:1")


def timed_out(target: Target = APP) -> TargetResult:
    return TargetResult(target, scan_id="s", status="IN_PROGRESS", timed_out=True, outage=True)


def down(target: Target = APP) -> TargetResult:
    return TargetResult(target, scan_id="s", error="the console could not say how scan s went: HTTP 503", outage=True)


def contradictory(target: Target = APP) -> TargetResult:
    return TargetResult(target, scan_id="s", status="COMPLETE", error="the console's SBOM names 3 vulnerabilities "
                        "its results lack")


def passed(target: Target = WEB) -> TargetResult:
    return TargetResult(target, scan_id="p", status="COMPLETE")


@pytest.mark.parametrize(("targets", "fail_code", "pass_code"), [
    ((timed_out(),), ExitCode.TIMED_OUT, ExitCode.PASSED),
    ((down(),), ExitCode.SCAN_INCOMPLETE, ExitCode.PASSED),
    ((down(), passed()), ExitCode.SCAN_INCOMPLETE, ExitCode.PASSED),
    ((contradictory(),), ExitCode.SCAN_INCOMPLETE, ExitCode.SCAN_INCOMPLETE),  # bad data is never passed over
    ((contradictory(), timed_out(WEB)), ExitCode.SCAN_INCOMPLETE, ExitCode.SCAN_INCOMPLETE),
    ((passed(),), ExitCode.PASSED, ExitCode.PASSED),
])
def test_on_error_pass_lets_only_console_trouble_through(targets: tuple[TargetResult, ...], fail_code: ExitCode,
                                                         pass_code: ExitCode) -> None:
    run = RunResult(targets=targets)
    assert decide(run, Policy()).exit_code == fail_code
    decision = decide(run, Policy(), on_error="pass")
    assert decision.exit_code == pass_code
    if pass_code != fail_code:
        assert decision.verdict == decide(run, Policy()).verdict  # the reports still say no verdict was reached
        assert not decision.passed and decision.passed_over
        assert decision.warnings[0].startswith("NO VERDICT: ")
        assert "passed over by --on-error pass" in decision.exit_description
    else:
        assert not decision.passed_over and not any(w.startswith("NO VERDICT") for w in decision.warnings)


def test_on_error_pass_never_hides_a_failed_gate(sample_run: RunResult) -> None:
    run = RunResult(targets=(*sample_run.targets, timed_out(WEB)))
    decision = decide(run, Policy(), on_error="pass")
    assert decision.verdict == "failed" and decision.exit_code == ExitCode.GATE_FAILED


@pytest.mark.parametrize(("run", "code"), [
    (RunResult(targets=(), error="cannot reach the console", outage=True), ExitCode.PASSED),
    (RunResult(targets=(), error="timed out", timed_out=True, outage=True), ExitCode.PASSED),
    (RunResult(targets=(), error="the console refused the API token"), ExitCode.SCAN_INCOMPLETE),
])
def test_a_run_that_ended_before_any_target_is_passed_over_only_for_an_outage(run: RunResult, code: ExitCode) -> None:
    assert decide(run, Policy(), on_error="pass").exit_code == code


@pytest.mark.parametrize(("signal_name", "code"), [("SIGINT", ExitCode.INTERRUPTED), ("SIGTERM", ExitCode.TERMINATED)])
def test_a_signal_outweighs_every_verdict_and_on_error(signal_name: str, code: ExitCode) -> None:
    run = RunResult(targets=(), error=f"stopped by {signal_name}", outage=True, stopped_by=signal_name)
    decision = decide(run, Policy(), on_error="pass")
    assert decision.exit_code == code and not decision.passed_over
    assert decision.exit_description == f"stopped by {signal_name}"


@pytest.mark.parametrize(("error", "outage"), [
    (ConsoleUnreachable("connection refused"), True),
    (ScanTimeout("timed out"), True),
    (ConsoleResponseError("HTTP 503", status=503), True),
    (ConsoleResponseError("HTTP 429", status=429), True),
    (ConsoleResponseError("HTTP 504", status=504), True),
    (ConsoleResponseError("HTTP 500: image tag not found", status=500), False),  # a bad target as often
    (ConsoleResponseError("malformed reply from the console: not JSON"), False),
    (ConsoleResponseError("over 64 MiB", status=200), False),
    (ConsoleResponseError("HTTP 400", status=400), False),
    (TlsError("certificate verify failed"), False),  # maybe an attacker's certificate: never passed over
])
def test_which_errors_are_outages(error: CiScanError, outage: bool) -> None:
    assert error.outage is outage


# -- reaching the console ------------------------------------------------------------------------------


@pytest.fixture
def no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("url", ["http://console.example.com", "http://10.0.0.5:8080", "http://[2001:db8::1]"])
def test_plain_http_to_another_machine_needs_allow_insecure_http(url: str, no_ca_variables: None) -> None:
    with pytest.raises(ConfigError, match="plain http:// on another machine") as refused:
        connection(console_url=url, api_token="secret-token")
    assert "--allow-insecure-http" in refused.value.hint and "secret-token" not in refused.value.one_line()
    allowed = connection(console_url=url, api_token="secret-token", allow_insecure_http=True)
    assert allowed.notices == (f"Warning: the API token goes to {url} unencrypted (--allow-insecure-http)",)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080",
                                 "http://127.8.0.1", "http://app.localhost"])
def test_plain_http_on_this_machine_needs_no_flag(url: str, no_ca_variables: None) -> None:
    assert connection(console_url=url, api_token="t").notices == ()


@pytest.mark.parametrize(("host", "loopback"), [("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True),
                                                ("::1", True), ("[::1]", True), ("localhost.example.com", False),
                                                ("128.0.0.1", False), ("", False)])
def test_what_counts_as_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_insecure_warns_on_every_run(no_ca_variables: None) -> None:
    reached = connection(console_url="https://c", api_token="t", insecure=True)
    assert reached.verify is False
    assert reached.notices[0].startswith("Warning: --insecure: the console's TLS certificate is not verified")


def _pem(tmp_path: Path) -> str:
    """A CA bundle Python's ssl accepts: the system's own, copied."""
    import ssl

    source = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    if not source or not Path(source).is_file():
        pytest.skip("this machine has no CA bundle file to copy")
    copy = tmp_path / "ca.pem"
    copy.write_bytes(Path(source).read_bytes())
    return str(copy)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_variables_are_honoured_and_the_option_comes_first(variable: str, tmp_path: Path,
                                                                     no_ca_variables: None) -> None:
    bundle = _pem(tmp_path)
    assert connection(console_url="https://c", api_token="t", environ={variable: bundle}).verify == bundle
    other = tmp_path / "other.pem"
    other.write_text(Path(bundle).read_text())
    chosen = connection(console_url="https://c", api_token="t", ca_bundle=str(other), environ={variable: bundle})
    assert chosen.verify == str(other)
    first = connection(console_url="https://c", api_token="t",
                       environ={"SSL_CERT_FILE": str(other), "REQUESTS_CA_BUNDLE": bundle})
    assert first.verify == bundle  # as requests reads them


def test_a_ca_variable_naming_no_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="REQUESTS_CA_BUNDLE '.*missing.pem' is not a readable file"):
        connection(console_url="https://c", api_token="t",
                   environ={"REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match="SSL_CERT_FILE .* holds no usable PEM certificates"):
        (tmp_path / "junk.pem").write_text("not a certificate")
        connection(console_url="https://c", api_token="t", environ={"SSL_CERT_FILE": str(tmp_path / "junk.pem")})


def test_ssl_cert_dir_is_a_directory_of_certificates(tmp_path: Path) -> None:
    assert connection(console_url="https://c", api_token="t", environ={"SSL_CERT_DIR": str(tmp_path)}).verify \
        == str(tmp_path)
    with pytest.raises(ConfigError, match="SSL_CERT_DIR .* is not a readable directory"):
        connection(console_url="https://c", api_token="t", environ={"SSL_CERT_DIR": str(tmp_path / "none")})


def test_the_poll_interval_has_a_floor() -> None:
    settings = _build(poll_interval="0.0001s")
    assert settings.scan.poll_initial == settings.scan.poll_max == settings.scan.poll_floor == 1.0
    assert settings.notices == ("Warning: --poll-interval 0.0001s is below the floor of 1s; the console is asked "
                                "at most every 1s",)
    assert _build(poll_interval="30s").scan.poll_max == 30 and not _build(poll_interval="30s").notices


def test_on_error_and_cancel_reach_the_settings() -> None:
    settings = _build(on_error="PASS", cancel=False)
    assert settings.on_error == "pass" and settings.scan.cancel is False
    assert _build().on_error == "fail" and _build().scan.cancel is True
    with pytest.raises(ConfigError, match="--on-error must be fail or pass"):
        _build(on_error="maybe")


# -- a reply that stalls -----------------------------------------------------------------------------


@contextlib.contextmanager
def slow_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback server that reads each request, then lets `answer` write to the connection (slowly)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    answer(conn)
                except OSError:  # the client gave up and shut the connection
                    pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.fixture
def stalling_server() -> Iterator[str]:
    """Headers, then a byte of body every 0.5 s for 2.5 s, then a stall for good."""
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        for _ in range(5):
            conn.sendall(b" ")
            time.sleep(0.5)
        conn.settimeout(30)
        conn.recv(1)  # until the client gives up

    with slow_server(answer) as url:
        yield url


def test_a_reply_that_stalls_mid_body_is_cut_off_at_the_deadline(stalling_server: str) -> None:
    client: Any = ConsoleClient(stalling_server, "api-token-123456", timeout=30.0, retries=0)
    client._access_token = "access-token-123456"  # skip the exchange: the stall is what is measured
    started = time.monotonic()
    with client, client.deadline(started + 3.0), pytest.raises(ConsoleUnreachable, match="did not answer in time"):
        client.list_registries()
    # Each read may wait the 3 s left when the request was sent, so without a wall-clock bound the stall
    # after the last byte (at 2.5 s) would end at 5.5 s; the bound shuts the socket at 3 s.
    assert time.monotonic() - started < 4.5


def test_the_suites_token_grep_finds_each_kind_of_token(tmp_path: Path) -> None:
    from ci_scan.simulator import ADMIN_TOKEN, STANDARD_TOKEN
    from tests.conftest import files_with_tokens

    (tmp_path / "clean.json").write_text('{"gate": {"verdict": "passed"}}')
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.md").write_text(f"token {ADMIN_TOKEN}")
    (tmp_path / "run" / "outputs").write_text(f"x={STANDARD_TOKEN}")
    (tmp_path / "debug.log").write_text("Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.sig")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "module.py").write_text(ADMIN_TOKEN)  # an installed copy of the project: not output
    try:
        assert files_with_tokens(tmp_path) == [
            f"{tmp_path / 'debug.log'}: an access or refresh token",
            f"{tmp_path / 'run' / 'outputs'}: the standard API key",
            f"{tmp_path / 'run' / 'summary.md'}: the admin API key",
        ]
    finally:  # planted here on purpose: the session's own grep must not find them
        shutil.rmtree(tmp_path)


@pytest.fixture
def trickled_headers() -> Iterator[str]:
    """The status line and headers one byte every 0.3 s, never finished."""
    def answer(conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            conn.sendall(bytes([byte]))
            time.sleep(0.3)

    with slow_server(answer) as url:
        yield url


def test_headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline(trickled_headers: str) -> None:
    client: Any = ConsoleClient(trickled_headers, "api-token-123456", timeout=30.0, retries=0)
    started = time.monotonic()
    with client, client.deadline(started + 2.0), pytest.raises(ConsoleUnreachable, match="did not answer in time"):
        client.authenticate()
    # Each byte resets httpx's read timeout: without the wall-clock bound this would take 300 s.
    assert time.monotonic() - started < 4.0


def test_abort_ends_requests_in_flight_in_other_threads(trickled_headers: str) -> None:
    client: Any = ConsoleClient(trickled_headers, "api-token-123456", timeout=30.0, retries=3)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.authenticate()
        except Exception as exc:  # noqa: BLE001 - what the thread ended with is the assertion
            errors.append(exc)

    with client:
        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.5)
        client.abort()
        worker.join(timeout=5)
        assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ScanTimeout), errors


class _Raw(httpx.BaseTransport):
    """Answers every request with these headers and body, as sent."""

    def __init__(self, headers: list[tuple[bytes, bytes]], body: bytes, status: int = 200) -> None:
        self.headers, self.body, self.status = headers, body, status

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, stream=httpx.ByteStream(self.body))


def test_a_body_compressed_several_times_over_is_refused() -> None:
    body = gzip.compress(gzip.compress(b"[]"))
    transport = _Raw([(b"Content-Encoding", b"gzip, gzip"), (b"Content-Type", b"application/json")], body)
    client: Any = ConsoleClient("https://c.test", "api-token-123456", transport=transport)
    client._access_token = "access-token-123456"
    with client, pytest.raises(ConsoleResponseError, match="compressed several times over") as refused:
        client.list_registries()
    assert not refused.value.outage


def test_a_header_that_is_not_ascii_is_kept_as_sent() -> None:
    transport = _Raw([(b"X-Note", "caf\u00e9".encode("latin-1")), (b"Retry-After", "\u00b2".encode("latin-1"))],
                     b"[]")
    client: Any = ConsoleClient("https://c.test", "api-token-123456", transport=transport)
    client._access_token = "access-token-123456"
    with client:
        assert client.list_registries() == []


def test_a_token_reply_that_is_not_json_is_never_quoted() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl"
    transport = _Raw([(b"Content-Type", b"text/plain")], f'{{"access_token": "{token}", oops'.encode())
    with ConsoleClient("https://c.test", "api-token-123456", transport=transport) as client, \
            pytest.raises(ConsoleResponseError, match="not JSON") as refused:
        client.authenticate()
    assert "eyJ" not in refused.value.one_line()
