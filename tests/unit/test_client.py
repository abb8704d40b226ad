"""The real client over httpx.MockTransport: auth, renewal, retries, error translation, redaction."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ci_scan.client import ConsoleClient
from ci_scan.errors import (
    AuthError,
    ConsoleResponseError,
    ConsoleUnreachable,
    NotFound,
    PermissionDenied,
    TlsError,
)
from ci_scan.kinds import VULNERABILITY

API_TOKEN = "YWNtZTo1ZjBkZmQ5Ni1hYmNkLTQzMjEtOWFiYy0xMjM0NTY3ODlhYmM"
Handler = Callable[[httpx.Request], httpx.Response]


class Console:
    """A scripted console: routes by path; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[str, list[httpx.Response]] = {}
        self.issued = 0

    def script(self, path: str, *responses: httpx.Response) -> None:
        self.routes.setdefault(path, []).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.routes and self.routes[path]:
            return self.routes[path].pop(0)
        if path == "/deepfence/auth/token":
            self.issued += 1
            return httpx.Response(200, json={"access_token": f"access-{self.issued}",
                                             "refresh_token": f"refresh-{self.issued}"})
        if path == "/deepfence/auth/token/refresh":
            self.issued += 1
            return httpx.Response(200, json={"access_token": f"access-{self.issued}",
                                             "refresh_token": f"refresh-{self.issued}"})
        return httpx.Response(200, json=[])

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


@pytest.fixture
def console() -> Console:
    return Console()


class RecordingClient(ConsoleClient):
    """A real client whose back-off sleeps are recorded instead of slept."""

    def __init__(self, console: Handler, **options: Any) -> None:
        self.sleeps: list[float] = []
        super().__init__("https://console.test", API_TOKEN, transport=httpx.MockTransport(console),
                         sleep=self.sleeps.append, **options)

    def __enter__(self) -> RecordingClient:
        return self


def make_client(console: Handler, **options: Any) -> RecordingClient:
    return RecordingClient(console, **options)


def test_exchanges_the_api_token_then_sends_the_access_token_as_bearer(console: Console) -> None:
    with make_client(console) as client:
        assert client.list_registries() == []
    auth, listing = console.requests
    assert json.loads(auth.content) == {"api_token": API_TOKEN}
    assert "authorization" not in auth.headers
    assert listing.headers["authorization"] == "Bearer access-1"
    assert listing.headers["user-agent"].startswith("ci-scan/")


def test_a_401_refreshes_with_the_refresh_token_and_retries(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(401, text="token is expired"))
    with make_client(console) as client:
        client.list_registries()
    assert console.paths() == ["/deepfence/auth/token", "/deepfence/registryaccount",
                               "/deepfence/auth/token/refresh", "/deepfence/registryaccount"]
    refresh = console.requests[2]
    assert refresh.headers["authorization"] == "Bearer refresh-1" and refresh.content == b""
    assert console.requests[3].headers["authorization"] == "Bearer access-2"


def test_a_refused_refresh_falls_back_to_exchanging_the_api_token(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(401, text="token is expired"))
    console.script("/deepfence/auth/token/refresh", httpx.Response(403, json={"message": "access token is revoked"}))
    with make_client(console) as client:
        client.list_registries()
    assert console.paths()[2:] == ["/deepfence/auth/token/refresh", "/deepfence/auth/token",
                                   "/deepfence/registryaccount"]


def test_repeated_401_is_an_auth_error(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(401, text="token is unauthorized"),
                   httpx.Response(401, text="token is unauthorized"))
    with make_client(console) as client, pytest.raises(AuthError, match="token is unauthorized"):
        client.list_registries()


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (httpx.Response(500, json={"message": "sql: no rows in result set"}), "HTTP 500: sql: no rows"),
        (httpx.Response(400, json={"message": "", "error_fields": {"api_token": "should only contain alphabets"},
                                   "error_index": None}), "api_token: should only contain"),
        (httpx.Response(401, text="nope"), "HTTP 401"),
    ],
)
def test_refused_api_token_is_an_auth_error(console: Console, response: httpx.Response, needle: str) -> None:
    console.script("/deepfence/auth/token", response)
    with make_client(console) as client, pytest.raises(AuthError, match=needle) as info:
        client.authenticate()
    assert API_TOKEN not in str(info.value)
    assert info.value.exit_code == 3


def test_403_with_empty_body_is_permission_denied(console: Console) -> None:
    console.script("/deepfence/registryaccount/r1/sync", httpx.Response(403))
    with make_client(console) as client, pytest.raises(PermissionDenied, match="sync the registry"):
        client.sync_registry("r1")


def test_404_is_not_found_with_the_console_message(console: Console) -> None:
    not_found = httpx.Response(404, json={"message": "Node unknown not found"})
    console.script("/deepfence/scan/status/vulnerability", not_found)
    with make_client(console) as client, pytest.raises(NotFound, match="Node unknown not found"):
        client.scan_statuses(VULNERABILITY, ["x"])


@pytest.mark.parametrize("status", [409, 429, 502, 503, 504])
def test_transient_statuses_are_retried_with_backoff(console: Console, status: int) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(status), httpx.Response(status))
    with make_client(console, jitter=lambda: 0.0) as client:
        assert client.list_registries() == []
        assert client.sleeps == [0.25, 0.5]


@pytest.mark.parametrize(("jitter", "sleeps"), [(0.0, [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),
                                                (0.5, [0.375, 0.75, 1.5, 3.0, 6.0, 7.5, 7.5]),
                                                (0.999, [0.49975, 0.9995, 1.999, 3.998, 7.996, 9.995, 9.995])])
def test_backoff_doubles_to_a_cap_with_half_of_each_pause_random(console: Console, jitter: float,
                                                                 sleeps: list[float]) -> None:
    console.script("/deepfence/registryaccount", *[httpx.Response(503)] * 7)
    with make_client(console, retries=7, jitter=lambda: jitter) as client:
        client.list_registries()
        assert client.sleeps == pytest.approx(sleeps)


def test_a_retry_after_past_the_deadline_ends_the_call_at_once(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(429, headers={"Retry-After": "100000"}))
    now = [0.0]
    with make_client(console) as client:
        client.wait_until(15.0, lambda: now[0])
        with pytest.raises(ConsoleResponseError, match=r"busy \(HTTP 429\).*come back in 100000s") as caught:
            client.list_registries()
        assert client.sleeps == []
    assert caught.value.outage and caught.value.exit_code == 3


def test_a_retry_after_date_is_honoured_within_the_deadline(console: Console) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    console.script("/deepfence/registryaccount", httpx.Response(503, headers={"Retry-After": when}))
    with make_client(console) as client:
        client.wait_until(1e9, lambda: 0.0)
        client.list_registries()
        assert len(client.sleeps) == 1 and 27 <= client.sleeps[0] <= 30


def test_debug_lines_name_each_request_and_retry_never_a_token(console: Console) -> None:
    lines: list[str] = []
    console.script("/deepfence/registryaccount", httpx.Response(503))
    with make_client(console, debug=lines.append, jitter=lambda: 0.0) as client:
        client.list_registries()
    assert [re.sub(r" in \d+ ms, \d+ bytes$", "", line) for line in lines] == [
        "POST /deepfence/auth/token -> 200", "GET /deepfence/registryaccount -> 503",
        "retrying in 0.2s (attempt 2 of 5)", "GET /deepfence/registryaccount -> 200"]
    assert not any(secret in line for line in lines for secret in (API_TOKEN, "access-1", "refresh-1"))


def test_retry_after_is_honoured(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(429, headers={"Retry-After": "7"}))
    with make_client(console) as client:
        client.list_registries()
        assert client.sleeps == [7.0]


def test_retries_are_bounded(console: Console) -> None:
    console.script("/deepfence/registryaccount", *[httpx.Response(503, json={"message": "neo4j down"})] * 10)
    with make_client(console, retries=2) as client, pytest.raises(ConsoleResponseError, match="HTTP 503: neo4j down"):
        client.list_registries()
    assert console.paths().count("/deepfence/registryaccount") == 3


def test_server_errors_are_not_retried(console: Console) -> None:
    console.script("/deepfence/scan/start/vulnerability", httpx.Response(500, json={"message": "image tag not found"}))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="image tag not found"):
        client.start_scans(VULNERABILITY, [("n", "image")], ["base"])
    assert console.paths().count("/deepfence/scan/start/vulnerability") == 1


def test_non_json_reply_is_a_malformed_reply(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(200, text="<html>login</html>"))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="not JSON"):
        client.list_registries()


@pytest.mark.parametrize(
    "body",
    [{"statuses": {"s": {"scan_id": "s"}}}, {"nothing": 1}, {"statuses": {"s": {"status": 5}}}],
)
def test_missing_required_fields_are_malformed_replies(console: Console, body: object) -> None:
    console.script("/deepfence/scan/status/vulnerability", httpx.Response(200, json=body))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="malformed reply"):
        client.scan_statuses(VULNERABILITY, ["s"])


def test_connection_failures_are_retried_then_reported(console: Console) -> None:
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("connection refused")

    with make_client(refuse, retries=3) as client, pytest.raises(ConsoleUnreachable, match="connection refused"):
        client.authenticate()
    assert len(attempts) == 4


def test_timeouts_are_reported_as_unreachable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with make_client(slow, retries=0) as client, pytest.raises(ConsoleUnreachable, match="did not answer in time"):
        client.authenticate()


def test_tls_failures_say_how_to_fix_them() -> None:
    def bad_cert(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")

    with make_client(bad_cert) as client, pytest.raises(TlsError) as info:
        client.authenticate()
    assert "--ca-bundle" in info.value.one_line() and "--insecure" in info.value.one_line()


def test_tokens_never_appear_in_errors(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(500, text=f"boom {API_TOKEN} access-1"))
    with make_client(console) as client, pytest.raises(ConsoleResponseError) as info:
        client.list_registries()
    assert API_TOKEN not in str(info.value) and "access-1" not in str(info.value)
    assert "***" in str(info.value)


def test_request_bodies_match_the_console_contract(console: Console) -> None:
    console.script("/deepfence/scan/start/vulnerability",
                   httpx.Response(202, json={"scan_ids": ["n-1"], "bulk_scan_id": "b"}))
    console.script("/deepfence/scan/results/vulnerability",
                   httpx.Response(200, json={"vulnerabilities": [], "severity_counts": None}))
    console.script("/deepfence/scan/stop/vulnerability", httpx.Response(202))
    with make_client(console) as client:
        replies = client.start_scans(VULNERABILITY, [("n", "image")], ["base", "java"])
        assert [(r.scan_ids, r.bulk_scan_id) for r in replies] == [(["n-1"], "b")]
        client.results_page(VULNERABILITY, "n-1", offset=2000, size=1000)
        client.stop_scans(VULNERABILITY, ["n-1"])
    bodies = {r.url.path: json.loads(r.content) for r in console.requests if r.content}
    start = bodies["/deepfence/scan/start/vulnerability"]
    assert start["scan_config"] == [{"language": "base"}, {"language": "java"}]
    assert set(start["filters"]) == {"cloud_account_scan_filter", "container_scan_filter", "host_scan_filter",
                                     "image_scan_filter", "kubernetes_cluster_scan_filter"}
    results = bodies["/deepfence/scan/results/vulnerability"]
    assert results["window"] == {"offset": 2000, "size": 1000}
    assert results["fields_filter"]["order_filter"]["order_fields"][0]["field_name"] == "cve_id"
    assert bodies["/deepfence/scan/stop/vulnerability"] == {"scan_ids": ["n-1"], "scan_type": "VulnerabilityScan"}


def test_redaction_skips_values_too_short_to_be_tokens() -> None:
    from ci_scan.errors import redact

    assert redact("check any proxy", ["x"]) == "check any proxy"
    assert redact(f"token {API_TOKEN} leaked", [API_TOKEN, ""]) == "token *** leaked"


def test_a_token_echoed_in_a_long_non_json_reply_is_redacted_before_it_is_cut(console: Console) -> None:
    console.script("/deepfence/registryaccount", httpx.Response(200, text=f"{'x' * 60} {API_TOKEN} tail"))
    with make_client(console) as client, pytest.raises(ConsoleResponseError) as info:
        client.list_registries()
    assert API_TOKEN[:10] not in str(info.value)


@pytest.mark.parametrize("token", ["abc\ndef", "has space", "", "ünïcode"])
def test_tokens_that_cannot_be_bearer_tokens_are_malformed_replies(console: Console, token: str) -> None:
    console.script("/deepfence/auth/token", httpx.Response(200, json={"access_token": token, "refresh_token": "r"}))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="not a bearer token"):
        client.authenticate()


def test_headers_httpx_refuses_to_send_never_leak() -> None:
    from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, serve

    with serve(ConsoleSimulator()) as server, ConsoleClient(server.url, ADMIN_TOKEN, retries=0) as client:
        client.authenticate()
        client._access_token = "secret-access\nheader"  # as if the console had handed this out
        with pytest.raises(ConsoleResponseError) as info:
            client.list_registries()
    assert "secret-access" not in info.value.one_line()
    assert "could not send a valid request" in info.value.one_line()


@pytest.mark.parametrize("status", [404, 302])
def test_a_url_that_is_no_console_says_so(console: Console, status: int) -> None:
    console.script("/deepfence/auth/token", httpx.Response(status, headers={"Location": "/login"}))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="does not look like") as info:
        client.authenticate()
    assert "--console-url" in info.value.one_line()


def test_the_hint_for_a_refusal_names_the_role_the_operation_needs(console: Console) -> None:
    console.script("/deepfence/scan/start/vulnerability", httpx.Response(403))
    with make_client(console) as client, pytest.raises(PermissionDenied) as info:
        client.start_scans(VULNERABILITY, [("n", "image")], ["base"])
    assert "standard user or admin" in info.value.one_line()


def test_a_hung_console_cannot_outlast_the_deadline() -> None:
    from ci_scan.errors import ScanTimeout
    from tests.conftest import FakeTime

    time = FakeTime()
    attempts = []

    def hung(request: httpx.Request) -> httpx.Response:
        attempts.append(request.extensions["timeout"]["read"])
        time.now += 3  # each attempt eats three seconds
        raise httpx.ReadTimeout("timed out")

    client = ConsoleClient("https://console.test", API_TOKEN, transport=httpx.MockTransport(hung),
                           sleep=time.sleep, retries=10)
    client.wait_until(10.0, time.clock)
    with pytest.raises(ScanTimeout, match="did not answer before the deadline"):
        client.authenticate()
    assert attempts[0] == 10.0 and all(t <= 10.0 for t in attempts)
    assert time.now <= 13


def test_scores_that_json_turns_into_infinity_or_nan_become_zero(console: Console) -> None:
    body = ('{"vulnerabilities": [{"cve_id": "CVE-1", "cve_severity": "high", "masked": false, '
            '"cve_cvss_score": 1e999, "epss_score": NaN}], "severity_counts": {"high": 1}}')
    console.script("/deepfence/scan/results/vulnerability", httpx.Response(200, text=body))
    with make_client(console) as client:
        (finding,) = client.results_page(VULNERABILITY, "s", 0, 10).findings
    assert finding.details is not None
    assert (finding.score, finding.details.epss_score) == (0.0, 0.0)


def test_console_text_and_numbers_are_cleaned_at_the_boundary(console: Console) -> None:
    """A lone surrogate or a 400-digit score must not cost the verdict later."""
    body = ('{"vulnerabilities": [{"cve_id": "CVE-1\\ud800", "cve_severity": "high", "masked": false, '
            '"cve_caused_by_package": "pkg\\udfff:1", "cve_cvss_score": ' + "9" * 400 + ', '
            '"cve_overall_score": -' + "1" * 400 + '}], "severity_counts": {"high": 1}, '
            '"created_at": ' + "7" * 400 + '}')
    console.script("/deepfence/scan/results/vulnerability", httpx.Response(200, text=body))
    with make_client(console) as client:
        page = client.results_page(VULNERABILITY, "s", 0, 10)
    (finding,) = page.findings
    assert finding.rule_id == "CVE-1\ufffd" and finding.component == "pkg\ufffd:1"
    assert finding.score == 0.0 and finding.details is not None and finding.details.overall_score == 0.0
    assert page.created_at_ms == 0
    finding.rule_id.encode("utf-8")  # would raise on a surrogate


def test_many_nodes_start_in_one_request_and_split_only_past_the_body_limit(console: Console) -> None:
    console.script("/deepfence/scan/start/vulnerability",
                   *[httpx.Response(202, json={"scan_ids": ["a-1"], "bulk_scan_id": "b"}) for _ in range(30)])
    with make_client(console) as client:
        client.start_scans(VULNERABILITY, [(f"node{i}", "image") for i in range(500)], ["base"])
        starts = [r for r in console.requests if r.url.path.endswith("/start/vulnerability")]
        assert len(starts) == 1 and len(json.loads(starts[0].content)["node_ids"]) == 500
        many = [("n" * 200 + str(i), "image") for i in range(10_000)]  # about 2.3 MB of node ids
        replies = client.start_scans(VULNERABILITY, many, ["base"])
    starts = [r for r in console.requests if r.url.path.endswith("/start/vulnerability")][1:]
    assert len(replies) == len(starts) >= 3
    assert all(len(r.content) <= 900_000 for r in starts)
    sent = [n["node_id"] for r in starts for n in json.loads(r.content)["node_ids"]]
    assert sent == [n for n, _ in many]


def test_status_by_bulk_id_sends_no_scan_ids(console: Console) -> None:
    console.script("/deepfence/scan/status/vulnerability", httpx.Response(200, json={"statuses": {
        "a-1": {"scan_id": "a-1", "status": "COMPLETE", "node_id": "a", "created_at": 5}}}))
    with make_client(console) as client:
        statuses = client.scan_statuses(VULNERABILITY, ["ignored"], bulk_scan_id="bulk")
    assert statuses["a-1"].node_id == "a" and statuses["a-1"].created_at_ms == 5
    (request,) = [r for r in console.requests if r.url.path.endswith("/status/vulnerability")]
    assert json.loads(request.content) == {"scan_ids": [], "bulk_scan_id": "bulk"}


@pytest.mark.parametrize(("status", "expected"), [(500, None), (404, None), (200, 1)])
def test_a_missing_runtime_sbom_means_not_yet(console: Console, status: int, expected: int | None) -> None:
    body = [{"package_name": "p", "version": "1", "cve_id": "CVE-1"}] if status == 200 else {"message": "x"}
    console.script("/deepfence/scan/sbom", httpx.Response(status, json=body))
    with make_client(console) as client:
        sbom = client.runtime_sbom("s")
    assert (None if sbom is None else len(sbom)) == expected


def test_a_bad_sbom_request_is_still_an_error(console: Console) -> None:
    console.script("/deepfence/scan/sbom", httpx.Response(400, json={"message": "bad"}))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="HTTP 400"):
        client.runtime_sbom("s")


def test_the_start_reply_carries_the_console_clock(console: Console) -> None:
    console.script("/deepfence/scan/start/vulnerability", httpx.Response(
        202, json={"scan_ids": ["a-1"], "bulk_scan_id": "b"}, headers={"Date": "Thu, 28 Nov 2024 00:00:00 GMT"}))
    with make_client(console) as client:
        (reply,) = client.start_scans(VULNERABILITY, [("a", "image")], ["base"])
    # The Date less half the round trip (real, however short: the reply is read and timed as it arrives).
    assert reply.console_time_ms is not None and 1732752000000 - 1000 <= reply.console_time_ms <= 1732752000000


@pytest.mark.parametrize("path", ["/deepfence/auth/token", "/deepfence/registryaccount"])
def test_an_html_page_from_a_proxy_is_named_so_and_not_pasted(console: Console, path: str) -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    console.script(path, *[httpx.Response(502, text=page, headers={"content-type": "text/html"})] * 8)
    with make_client(console) as client, pytest.raises(ConsoleResponseError) as caught:
        client.list_registries()
    message = caught.value.one_line()
    assert "the console (or a proxy in front of it) answered HTTP 502 with an HTML page" in message
    assert "<" not in message and "nginx" not in message
    assert not isinstance(caught.value, AuthError), "a proxy's page is no refused token"


def test_a_gzip_bomb_is_refused_once_inflated_past_the_limit(console: Console) -> None:
    import gzip

    from ci_scan.client import MAX_RESPONSE_BYTES

    bomb = gzip.compress(b"[" + b" " * (MAX_RESPONSE_BYTES + 10) + b"]", compresslevel=9)
    assert len(bomb) < 200_000
    console.script("/deepfence/registryaccount",
                   httpx.Response(200, content=bomb, headers={"content-encoding": "gzip",
                                                              "content-type": "application/json"}))
    with make_client(console) as client, pytest.raises(ConsoleResponseError, match="over 64 MiB"):
        client.list_registries()


def test_a_compressed_reply_is_read_as_before(console: Console) -> None:
    import gzip

    console.script("/deepfence/registryaccount",
                   httpx.Response(200, content=gzip.compress(b"[]"), headers={"content-encoding": "gzip"}))
    with make_client(console) as client:
        assert client.list_registries() == []


class Trickle(httpx.SyncByteStream):
    """A body sent a byte at a time, each after a pause: every read is quick, the whole is not."""

    def __iter__(self) -> Any:
        import time

        for byte in b'[{"node_id": "x"}]' * 100:
            time.sleep(0.05)
            yield bytes([byte])


def test_a_trickled_body_is_bounded_by_the_request_timeout() -> None:
    import time

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/deepfence/auth/token":
            return httpx.Response(200, json={"access_token": "a", "refresh_token": "r"})
        return httpx.Response(200, stream=Trickle())

    started = time.monotonic()
    with make_client(handler, timeout=0.5, retries=1) as client, pytest.raises(ConsoleUnreachable,
                                                                              match="did not answer in time"):
        client.list_registries()
    assert time.monotonic() - started < 8, "two attempts of 2.5 s each (5 timeouts), not the 90 s the body takes"
