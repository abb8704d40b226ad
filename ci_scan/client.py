"""The console API client: the only module that speaks HTTP.

Every transport or HTTP failure leaves this module as a `ConsoleError` whose message never contains
the API token or the tokens the console hands out.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ci_scan import __version__
from ci_scan.errors import (
    AuthError,
    ConsoleResponseError,
    ConsoleUnreachable,
    NotFound,
    PermissionDenied,
    ScanTimeout,
    TlsError,
    redact,
)
from ci_scan.hosts import is_loopback
from ci_scan.kinds import ScanKind
from ci_scan.wire import (
    AgentNode,
    ImageNode,
    Registry,
    ResultsPage,
    SbomEntry,
    ScanStatus,
    StartReply,
    TopologyDelta,
    parse_agent_nodes,
    parse_count,
    parse_images,
    parse_registries,
    parse_results,
    parse_sbom,
    parse_scan_list,
    parse_scan_trigger,
    parse_statuses,
    parse_tokens,
    parse_topology_delta,
)

RETRIED_STATUSES = frozenset({409, 429, 502, 503, 504})
"""409 comes from transient database deadlocks on the console; the rest are gateway or load errors."""

_SCAN_FILTERS = (
    "cloud_account_scan_filter",
    "container_scan_filter",
    "host_scan_filter",
    "image_scan_filter",
    "kubernetes_cluster_scan_filter",
)
BODY_TIMEOUTS = 5
"""A whole reply may take this many request timeouts of wall-clock time (a big SBOM on a slow link), within
the run's deadline."""
MAX_RESPONSE_BYTES = 64 * 2**20
"""The most a reply may hold once inflated: a 1,000-finding results page is about 2 MB."""
NODE_PAGE = 500
"""Hosts or containers per search request."""
MAX_BODY_BYTES = 900_000
"""The console refuses request bodies over about 1 MB; starts are split below this."""
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 10.0
"""Seconds before the first retry, and the most between two (each with jitter)."""
MAX_RETRY_AFTER = 60.0
"""The longest `Retry-After` honoured when no deadline bounds the call; within one, the deadline decides."""


def fields_filter(
    contains: Mapping[str, list[Any]] | None = None,
    in_array: Mapping[str, list[Any]] | None = None,
    order: Iterable[tuple[str, bool]] = (),
) -> dict[str, Any]:
    """A `ReportersFieldsFilters` object with every required member present."""
    body: dict[str, Any] = {
        "contains_filter": {"filter_in": dict(contains or {})},
        "match_filter": {"filter_in": {}},
        "order_filter": {
            "order_fields": [{"field_name": name, "descending": desc} for name, desc in order]
        },
        "compare_filter": None,
    }
    if in_array:
        body["contains_in_array_filter"] = {"filter_in": dict(in_array)}
    return body


class ConsoleClient:
    """Talks to one console with one API token. Use as a context manager."""

    def __init__(
        self,
        console_url: str,
        api_token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        timeout: float = 60.0,
        retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        debug: Callable[[str], None] | None = None,
    ) -> None:
        """`verify` is True (the system's CAs), False, or a CA bundle's path; `jitter` gives a number in
        [0, 1) that spreads retries; `debug` takes one line per request (method, path, status, time)."""
        self._api_token = api_token
        self._access_token = ""
        self._refresh_token = ""
        self._retries = retries
        self._sleep = sleep
        self._jitter = jitter
        self._debug = debug
        self._timeout = timeout
        self._deadline: tuple[float, Callable[[], float]] | None = None
        self._aborted = False
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        """Every connection's socket, so that a request past its bound can be cut off at any stage."""
        self._auth_lock = threading.Lock()
        self.console_url = console_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.console_url,
            transport=transport,
            verify=_ssl_verify(verify),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            follow_redirects=False,
            headers={"User-Agent": f"ci-scan/{__version__}", "Accept": "application/json"},
            # A console on this machine is reached directly: the token never goes to a proxy in plain text.
            trust_env=not _plain_loopback(self.console_url),
        )

    def __enter__(self) -> ConsoleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def wait_until(self, deadline: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        """Bound every request and retry by `deadline` (a `clock()` value); None: no bound."""
        self._deadline = (deadline, clock) if deadline is not None else None

    @contextlib.contextmanager
    def deadline(self, at: float, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
        """Within the block, every request and retry ends by `at` (a `clock()` value); then the bound before."""
        before = self._deadline
        self._deadline = (at, clock)
        try:
            yield
        finally:
            self._deadline = before

    def abort(self) -> None:
        """End every request in flight now (other threads' too), and refuse new ones: the run was stopped."""
        self._aborted = True
        self._shut_all()

    def _remaining(self) -> float | None:
        if self._aborted:
            raise ScanTimeout("the run was stopped before the console answered")
        if self._deadline is None:
            return None
        deadline, clock = self._deadline
        remaining = deadline - clock()
        if remaining <= 0:
            raise ScanTimeout(f"timed out: the console at {self.console_url} did not answer before the deadline")
        return remaining

    # -- authentication ---------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Exchange the API token for an access and a refresh token."""
        response = self._send("POST", "/deepfence/auth/token", {"api_token": self._api_token}, auth=False)
        if response.status_code == 404 or response.is_redirect:
            raise ConsoleResponseError(
                f"{self.console_url} does not look like a Deepfence console: "
                f"HTTP {response.status_code} on /deepfence/auth/token",
                hint="check --console-url: give the console's address, without any path",
                status=response.status_code,
            )
        if response.status_code != 200:
            # A proxy's page, or a console too busy to answer (still so after the retries). The console refuses
            # a token in JSON or text, with a 4xx or, for a well-formed unknown key, a 500 (API_NOTES §2.1).
            if _is_html(response) or response.status_code in RETRIED_STATUSES:
                raise _unexpected(response, "exchange the API token for an access token", self._secrets())
            raise AuthError(
                f"the console refused the API token (HTTP {response.status_code}"
                f"{_detail(response, self._secrets())})"
            )
        self._access_token, self._refresh_token = parse_tokens(self._json(response, quote=False))

    def _renew_access(self) -> None:
        """Refresh the access token; if the console refuses, exchange the API token again."""
        if self._refresh_token:
            response = self._send(
                "POST", "/deepfence/auth/token/refresh", None, auth=False,
                headers={"Authorization": f"Bearer {self._refresh_token}"},
            )
            if response.status_code == 200:
                self._access_token, self._refresh_token = parse_tokens(self._json(response, quote=False))
                return
        self.authenticate()

    # -- registries and images --------------------------------------------------------------------

    def list_registries(self) -> list[Registry]:
        return parse_registries(self._call("GET", "/deepfence/registryaccount", what="list registries"))

    def sync_registry(self, registry_id: str) -> None:
        self._call(
            "POST", f"/deepfence/registryaccount/{registry_id}/sync", what="sync the registry",
            expected=(200, 202, 204), reply=False,
        )

    def list_images(
        self,
        registry_id: str,
        repository: str | None = None,
        *,
        tag_entry: str | None = None,
        offset: int = 0,
        size: int = 100,
    ) -> list[ImageNode]:
        """Images of one repository (or of the whole registry); `tag_entry` (`name:tag`) narrows to a tag."""
        body = {
            "registry_id": registry_id,
            "image_filter": fields_filter(
                in_array={"docker_image_tag_list": [tag_entry]} if tag_entry else None,
                order=[("node_id", False)],
            ),
            "image_stub_filter": fields_filter(contains={"docker_image_name": [repository]} if repository else None),
            "window": {"offset": offset, "size": size},
        }
        return parse_images(self._call("POST", "/deepfence/registryaccount/images", body, what="list images"))

    # -- agent-discovered nodes --------------------------------------------------------------------

    def search_nodes(self, node_type: str, contains: Mapping[str, list[Any]] | None = None, offset: int = 0,
                     size: int = NODE_PAGE) -> list[AgentNode]:
        """Hosts or containers (`node_type`) whose fields are in the lists given, one page."""
        body = {
            "node_filter": {"filters": fields_filter(contains=contains, order=[("node_id", False)]),
                            "in_field_filter": None, "window": {"offset": 0, "size": 0}},
            "window": {"offset": offset, "size": size},
        }
        path = f"/deepfence/search/{node_type}s"
        return parse_agent_nodes(self._call("POST", path, body, what=f"search the {node_type}s"), node_type)

    def all_nodes(self, node_type: str, contains: Mapping[str, list[Any]] | None = None) -> list[AgentNode]:
        """Every active host or container that matches, page by page (a page that brings nothing new ends
        it, should a console ignore the window)."""
        found: dict[str, AgentNode] = {}
        wanted = {"active": [True], **(contains or {})}
        while True:
            page = self.search_nodes(node_type, wanted, offset=len(found))
            new = {n.node_id: n for n in page if n.node_id not in found}
            found.update(new)
            if len(page) < NODE_PAGE or not new:
                return list(found.values())

    def topology_delta(self, cursor: tuple[int, int], entity_types: Sequence[str]) -> TopologyDelta:
        """Nodes added and removed since `cursor` (addition, deletion timestamps in ms)."""
        body = {"addition": True, "addition_timestamp": cursor[0], "deletion": False,
                "deletion_timestamp": cursor[1], "entity_types": list(entity_types)}
        data = self._call("POST", "/deepfence/graph/topology/delta", body, what="read the topology delta")
        return parse_topology_delta(data, cursor)

    # -- scans ------------------------------------------------------------------------------------

    def start_scans(
        self,
        kind: ScanKind,
        nodes: Sequence[tuple[str, str]],
        languages: Iterable[str] = (),
        image_filter: Mapping[str, list[str]] | None = None,
        on_reply: Callable[[StartReply], None] | None = None,
    ) -> list[StartReply]:
        """Start `kind` scans of every (node_id, node_type) in one request, or in as few as the body limit
        allows; `on_reply` hears of each request's scans as soon as they are started."""
        languages = list(languages)
        replies = []
        def body_for(chunk: Sequence[tuple[str, str]]) -> dict[str, Any]:
            return self._start_body(kind, chunk, languages, image_filter)

        for chunk in _chunks(nodes, lambda chunk: len(json.dumps(body_for(chunk)).encode())):
            body = body_for(chunk)
            response = self._checked(
                "POST", kind.endpoint("start"), body, what="start a scan", expected=(200, 202)
            )
            scan_ids, bulk = parse_scan_trigger(self._json(response))
            replies.append(StartReply(scan_ids, bulk, _request_time_ms(response)))
            if on_reply is not None:
                on_reply(replies[-1])
        return replies

    @staticmethod
    def _start_body(
        kind: ScanKind, nodes: Sequence[tuple[str, str]], languages: list[str],
        image_filter: Mapping[str, list[str]] | None,
    ) -> dict[str, Any]:
        filters: dict[str, Any] = {name: {"filter_in": None} for name in _SCAN_FILTERS}
        if image_filter:
            filters["image_scan_filter"] = {"filter_in": dict(image_filter)}
        body: dict[str, Any] = {
            "node_ids": [{"node_id": node_id, "node_type": node_type} for node_id, node_type in nodes],
            "filters": filters,
        }
        if kind.has_languages:
            body["scan_config"] = [{"language": language} for language in languages]
        body.update(is_priority=False, deepfence_system_scan=False)
        return body

    def scan_statuses(
        self, kind: ScanKind, scan_ids: Sequence[str] = (), bulk_scan_id: str = ""
    ) -> dict[str, ScanStatus]:
        """Every scan of `bulk_scan_id`, or the scans named, in one request."""
        body = {"scan_ids": [] if bulk_scan_id else list(scan_ids), "bulk_scan_id": bulk_scan_id}
        return parse_statuses(self._call("POST", kind.endpoint("status"), body, what="read the scan status"))

    def stop_scans(self, kind: ScanKind, scan_ids: list[str]) -> None:
        body = {"scan_ids": scan_ids, "scan_type": kind.scan_type}
        self._call(
            "POST", kind.endpoint("stop"), body, what="stop the scan", expected=(200, 202, 204), reply=False,
        )

    def latest_scan(
        self, kind: ScanKind, node_id: str, node_type: str, status: str = "COMPLETE"
    ) -> tuple[ScanStatus | None, int | None]:
        """The node's most recently updated scan in `status` (or None), and the console's clock then."""
        body = {
            "node_ids": [{"node_id": node_id, "node_type": node_type}],
            "fields_filter": fields_filter(contains={"status": [status]}, order=[("updated_at", True)]),
            "window": {"offset": 0, "size": 1},
        }
        response = self._checked("POST", kind.endpoint("list"), body, what="list the node's scans")
        scans = parse_scan_list(self._json(response))
        return (scans[0] if scans else None), _request_time_ms(response)

    def count_results(self, kind: ScanKind, scan_id: str) -> int:
        """Every finding of the scan, masked ones included (the count is taken after the window)."""
        body = {"scan_id": scan_id, "fields_filter": fields_filter(), "window": {"offset": 0, "size": 0}}
        return parse_count(
            self._call("POST", f"/deepfence/scan/results/count/{kind.path}", body, what="count findings")
        )

    def results_page(self, kind: ScanKind, scan_id: str, offset: int, size: int) -> ResultsPage:
        """One page of findings in a stable order (`size` 0: all of them)."""
        body = {
            "scan_id": scan_id,
            "fields_filter": fields_filter(order=[(name, False) for name in kind.order_fields]),
            "window": {"offset": offset, "size": size},
        }
        return parse_results(self._call("POST", kind.endpoint("results"), body, what="fetch findings"), kind)

    def runtime_sbom(self, scan_id: str) -> list[SbomEntry] | None:
        """The scan's runtime SBOM, or None while the console has not written it (it answers 500 then)."""
        try:
            data = self._call("POST", "/deepfence/scan/sbom", {"scan_id": scan_id}, what="read the scan's SBOM")
        except (NotFound, ConsoleResponseError) as exc:
            if isinstance(exc, NotFound) or (exc.status or 0) >= 500:
                return None
            raise
        return parse_sbom(data)

    # -- plumbing ---------------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._api_token, self._access_token, self._refresh_token) if s)

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        what: str,
        expected: tuple[int, ...] = (200,),
        reply: bool = True,
    ) -> Any:
        """An authenticated call's decoded reply; renews the access token once on a 401."""
        response = self._checked(method, path, body, what=what, expected=expected)
        return self._json(response) if reply else None

    def _checked(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        what: str,
        expected: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """An authenticated call answered with an `expected` status, else the matching error."""
        if not self._access_token:
            with self._auth_lock:
                if not self._access_token:
                    self.authenticate()
        used = self._access_token
        response = self._send(method, path, body)
        if response.status_code == 401:
            with self._auth_lock:  # fetches run in threads: one renewal for all of them
                if self._access_token == used:
                    self._renew_access()
            response = self._send(method, path, body)
        status = response.status_code
        if status in expected:
            return response
        if _is_html(response) and status != 404:  # a 404 still means "not there" (an SBOM not written yet)
            raise _unexpected(response, what, self._secrets())
        detail = _detail(response, self._secrets())
        if status == 401:
            raise AuthError(f"the console refused the access token when asked to {what}{detail}")
        if status == 403:
            needed = "admin" if "sync" in what else "standard user or admin"
            raise PermissionDenied(
                f"the console did not allow the API token's user to {what} (HTTP 403)",
                hint=f"use the API key of a user whose role may do this ({needed})",
                status=status,
            )
        if status == 404:
            raise NotFound(f"the console could not {what}: not found{detail}", status=status)
        raise ConsoleResponseError(f"the console could not {what} (HTTP {status}{detail})", status=status)

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request, retried on connection failures and transient statuses with exponential backoff and
        jitter, within the deadline.

        Every call ci-scan makes is safe to repeat: the reads are POSTs that change nothing, a second stop
        or sync does no harm, and a repeated start gets the scans the first one started, since the console
        reuses a node's unfinished scan of the same kind (API_NOTES §4). Statuses outside RETRIED_STATUSES
        (a 500 among them) are never repeated."""
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {self._access_token}"
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        attempt = 0
        first_sent = time.monotonic()
        while True:
            attempt += 1
            remaining = self._remaining()
            per_read = self._timeout if remaining is None else min(self._timeout, remaining)
            whole = self._timeout * BODY_TIMEOUTS if remaining is None else min(self._timeout * BODY_TIMEOUTS,
                                                                                 remaining)
            sent = time.monotonic()
            try:
                response = self._bounded(method, path, content, all_headers,
                                         httpx.Timeout(per_read, connect=min(15.0, per_read)), whole)
            except httpx.LocalProtocolError:
                # httpx refused to send the request; its message would quote the headers, tokens included.
                raise ConsoleResponseError(
                    f"ci-scan could not send a valid request to {self.console_url}{path}",
                    hint="the console's tokens or the console URL contain characters HTTP does not allow",
                ) from None
            except httpx.TimeoutException as exc:
                self._log(f"{method} {path} -> {type(exc).__name__} after {_ms(sent)}")
                if attempt > self._retries:
                    raise ConsoleUnreachable(
                        f"the console at {self.console_url} did not answer in time ({type(exc).__name__})"
                    ) from None
            except httpx.TransportError as exc:
                self._log(f"{method} {path} -> {type(exc).__name__} after {_ms(sent)}")
                if _is_tls_failure(exc):
                    raise TlsError(
                        f"TLS verification of {self.console_url} failed: {redact(str(exc), self._secrets())}"
                    ) from None
                if attempt > self._retries:
                    raise ConsoleUnreachable(
                        f"cannot reach the console at {self.console_url}: "
                        f"{redact(str(exc), self._secrets()) or type(exc).__name__}"
                    ) from None
            else:
                self._log(f"{method} {path} -> {response.status_code} in {_ms(sent)}, {len(response.content)} bytes")
                if response.status_code not in RETRIED_STATUSES or attempt > self._retries:
                    # The console's clock is read at the first attempt: a retried start's scan began then.
                    response.elapsed = datetime.timedelta(seconds=time.monotonic() - first_sent)
                    return response
                asked = _retry_after(response, time.time())
                if asked is not None:
                    left = self._remaining()
                    if left is not None and asked > left:  # waiting would only end at the deadline: say why now
                        raise ConsoleResponseError(
                            f"the console is busy (HTTP {response.status_code}) and asked ci-scan to come back in "
                            f"{asked:.0f}s, after the run's deadline ({left:.0f}s left), when sent {method} {path}",
                            hint="try again later, or raise --timeout", status=response.status_code)
                    self._pause(asked if left is not None else min(asked, MAX_RETRY_AFTER), attempt)
                    continue
            self._pause(self._backoff(attempt), attempt)

    def _backoff(self, attempt: int) -> float:
        """Exponential, capped, with jitter: half of it fixed, half random, so that many CI jobs hit by the
        same outage do not all come back at once."""
        ceiling = min(BACKOFF_FIRST * 2.0 ** (attempt - 1), BACKOFF_CAP)
        return ceiling * (0.5 + 0.5 * self._jitter())

    def _pause(self, seconds: float, attempt: int) -> None:
        remaining = self._remaining()
        wait = seconds if remaining is None else min(seconds, remaining)
        self._log(f"retrying in {wait:.1f}s (attempt {attempt + 1} of {self._retries + 1})")
        self._sleep(wait)

    def _log(self, line: str) -> None:
        if self._debug is not None:
            self._debug(redact(line, self._secrets()))

    def _bounded(self, method: str, path: str, content: bytes | None, headers: dict[str, str],
                 timeout: httpx.Timeout, seconds: float) -> httpx.Response:
        """The response, within `seconds` of wall-clock time from connecting to the last byte (httpx's
        timeouts are per read, so headers or a body trickled a byte at a time would never end), and at
        most MAX_RESPONSE_BYTES once inflated (a gzip bomb, or a results page no console sends)."""
        request = self._http.build_request(method, path, content=content, headers=headers, timeout=timeout)
        request.extensions["trace"] = self._trace
        sent = time.monotonic()
        give_up = sent + seconds
        cut = threading.Event()
        timer = threading.Timer(seconds, self._cut_off, (cut,))
        timer.daemon = True
        timer.start()
        response: httpx.Response | None = None
        try:
            response = self._http.send(request, stream=True)
            encodings = [e.strip() for e in response.headers.get("content-encoding", "").split(",") if e.strip()]
            if len(encodings) > 1:  # each layer multiplies what a small body inflates to
                raise ConsoleResponseError(f"the console's reply to {method} {path} is compressed several times over "
                                           f"({', '.join(encodings)}): no console answers so")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ConsoleResponseError(
                        f"the console's reply to {method} {path} is over {MAX_RESPONSE_BYTES // 2**20} MiB: "
                        "no reply of the console is that big")
                if time.monotonic() > give_up:
                    raise httpx.ReadTimeout(f"the reply took over {seconds:g}s", request=request)
                chunks.append(chunk)
        except httpx.TransportError:
            if cut.is_set():
                raise httpx.ReadTimeout(f"the reply took over {seconds:g}s", request=request) from None
            raise
        finally:
            timer.cancel()
            if response is not None:
                response.close()
        kept = [(k, v) for k, v in response.headers.raw
                if k.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")]
        rebuilt = httpx.Response(response.status_code, headers=kept, content=b"".join(chunks), request=request,
                                 extensions=response.extensions)
        rebuilt.elapsed = datetime.timedelta(seconds=time.monotonic() - sent)
        return rebuilt

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: keeps each new connection's socket."""
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                self._sockets.add(sock)

    def _cut_off(self, cut: threading.Event) -> None:
        """A request ran past its bound: shut every connection (the others are retried or at the deadline)."""
        cut.set()
        self._shut_all()

    def _shut_all(self) -> None:
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _json(self, response: httpx.Response, *, quote: bool = True) -> Any:
        """The reply's JSON; a reply that is not JSON is quoted (redacted) unless it may hold new tokens."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # RecursionError: nested a million deep
            snippet = redact(response.text, self._secrets())[:80].replace("\n", " ")
            raise ConsoleResponseError(
                f"malformed reply from the console to {response.request.url.path}: not JSON"
                + (f" ({snippet!r})" if quote else ""),
                hint="check that --console-url points at the console itself, not a proxy login page",
            ) from None


def _chunks(
    nodes: Sequence[tuple[str, str]], body_size: Callable[[Sequence[tuple[str, str]]], int]
) -> list[Sequence[tuple[str, str]]]:
    """`nodes` in as few slices as keep each start body under the console's size limit."""
    if len(nodes) <= 1 or body_size(nodes) <= MAX_BODY_BYTES:
        return [nodes]
    half = len(nodes) // 2
    return _chunks(nodes[:half], body_size) + _chunks(nodes[half:], body_size)


def _request_time_ms(response: httpx.Response) -> int | None:
    """The console's clock when it received the request: its `Date` header less the time it took."""
    try:
        answered = parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    try:
        took = response.elapsed.total_seconds()
    except RuntimeError:  # not measured (a response built in a test)
        took = 0.0
    return int((answered - took) * 1000)


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """The seconds the console's `Retry-After` asks for (a number of seconds or an HTTP date), if any."""
    after = response.headers.get("Retry-After", "").strip()
    if after.isascii() and after.isdigit():
        return float(after)
    try:
        return max(0.0, parsedate_to_datetime(after).timestamp() - now) if after else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _ms(since: float) -> str:
    return f"{(time.monotonic() - since) * 1000:.0f} ms"


def _plain_loopback(url: str) -> bool:
    """A plain-http console on this machine (the simulator, a port forward)."""
    parts = httpx.URL(url)
    return parts.scheme == "http" and is_loopback(parts.host)


def _ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """`verify` as httpx takes it: a CA bundle file, or a directory of hashed certificates (SSL_CERT_DIR)."""
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return verify


def _is_tls_failure(exc: httpx.TransportError) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def _is_html(response: httpx.Response) -> bool:
    """An HTML page where the console answers JSON: a proxy's or load balancer's error page, as a rule."""
    kind = response.headers.get("content-type", "").lower()
    if "html" in kind:
        return True
    start = response.content[:200].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _unexpected(response: httpx.Response, what: str, secrets: Iterable[str]) -> ConsoleResponseError:
    """A reply the console itself would not give: its page is never pasted into a CI log."""
    status = response.status_code
    if _is_html(response):
        return ConsoleResponseError(
            f"the console (or a proxy in front of it) answered HTTP {status} with an HTML page when asked to {what}",
            hint="check that the console is up, and any proxy or load balancer between CI and the console",
            status=status,
        )
    return ConsoleResponseError(f"the console could not {what} (HTTP {status}{_detail(response, secrets)})",
                                status=status)


def _detail(response: httpx.Response, secrets: Iterable[str]) -> str:
    """`: <message>` from a console error body (JSON or plain text), redacted and on one line."""
    text = ""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text.strip()
    else:
        if isinstance(data, dict):
            parts = [str(data.get("message") or "")]
            fields = data.get("error_fields")
            if isinstance(fields, dict):
                parts += [f"{key}: {value}" for key, value in fields.items()]
            text = "; ".join(p for p in parts if p)
    text = " ".join(redact(text, secrets).split())[:300]
    return f": {text}" if text else ""
