"""The simulated console as a WSGI application: routing, authentication, roles, faults, recording."""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from . import node_api, registry_api, sbom, scan_api
from .bodies import (
    AUTH_REQUEST,
    DELTA_REQUEST,
    IMAGES_REQUEST,
    LIST_REQUEST,
    MALWARE_START_REQUEST,
    RESULTS_REQUEST,
    SBOM_REQUEST,
    SEARCH_REQUEST,
    SECRET_START_REQUEST,
    START_REQUEST,
    STATUS_REQUEST,
    STOP_REQUEST,
    Shape,
    parse_body,
)
from .data import Dataset
from .fault_replies import Reply, drop_connection, fault_reply
from .faults import Fault, FaultPlan, parse_fault
from .nodes import AgentNode, Host
from .request_log import RequestLog
from .responses import ApiError, Response, empty, error_response, json_response, plain_text, simulated_failure
from .samples import default_dataset
from .state import Call, ConsoleState
from .tokens import ACCESS, REFRESH, ApiUser, Permission, TokenIssuer, TokenRejected, api_token_is_well_formed

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

Handler = Callable[[ConsoleState, Call], Response]
BAD_API_TOKEN = "should only contain alphabets, numbers and valid characters"


class RecordedRequest(NamedTuple):
    """A request as received; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: Literal["public", "access", "refresh"] = "access"
    permission: Permission | None = None
    shape: Shape | None = None


@dataclass
class _Fault:
    response: Response
    remaining: int


def _read_request(environ: WSGIEnvironment) -> RecordedRequest:
    headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key[:5] == "HTTP_"}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    return RecordedRequest(environ["REQUEST_METHOD"].upper(), environ.get("PATH_INFO") or "/", headers, body)


def _bearer_token(headers: dict[str, str]) -> str | None:
    """go-chi/jwtauth: the Authorization header first, then the `jwt` cookie."""
    value = headers.get("authorization", "")
    if len(value) > 7 and value[:6].upper() == "BEARER":
        return value[7:]
    try:
        cookie = SimpleCookie(headers.get("cookie", "")).get("jwt")
    except CookieError:
        return None
    return cookie.value if cookie and cookie.value else None


class ConsoleSimulator:
    """A ThreatMapper console (API v2.5) in memory. Call it as a WSGI app; it is thread-safe.

    Scans (vulnerability, secret, malware) move one step per status poll, so tests are deterministic;
    `clock` drives timestamps and token expiry, `seed` the bulk ids and the shuffled order of unordered
    result pages. A vulnerability scan that reaches COMPLETE has no findings yet: they land over the next
    `matching_polls` status polls, after which the runtime SBOM exists (0: all findings and the SBOM at the
    first COMPLETE). Secret and malware scans have all their findings at COMPLETE.

    Hosts and containers exist from `registered_at_ms` after the simulator is built (console time, by
    `clock`); `register_node` makes one register now and `deregister_node` makes one go inactive.

    `faults` (or `add_fault`) script bad answers per path (faults.py); `sleep` is what latency and trickle
    faults wait with. `request_log` names a file that gets one JSON line per request (request_log.py).
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        access_token_ttl: float = 30 * 60,
        refresh_token_ttl: float = 26 * 3600,
        access_token_uses: int | None = None,
        sync_polls: int = 2,
        matching_polls: int = 2,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        faults: Iterable[Fault | str] = (),
        request_log: str | os.PathLike[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.dataset = dataset if dataset is not None else default_dataset()
        if matching_polls < 0:
            raise ValueError(f"matching_polls must not be negative, not {matching_polls}")
        self.state = ConsoleState(self.dataset, clock, random.Random(seed), sync_polls, matching_polls)
        self.state.started_ms = self.state.now_ms()
        self.requests: list[RecordedRequest] = []
        self._issuer = TokenIssuer(clock, access_token_ttl, refresh_token_ttl)
        self._access_token_uses = access_token_uses
        self._token_uses: dict[str, int] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._plan = FaultPlan(parse_fault(f) if isinstance(f, str) else f for f in faults)
        self._log = RequestLog(request_log) if request_log is not None else None
        self._sleep = sleep
        self._lock = threading.RLock()
        self._routes = self._build_routes()

    def expire_access_tokens_after(self, requests: int | None) -> None:
        """Each access token then works for this many authenticated requests (None: no limit)."""
        with self._lock:
            self._access_token_uses = requests

    def add_fault(self, fault: Fault | str) -> None:
        """Script one more fault (a `Fault` or its text, see faults.py); it counts requests from now on."""
        parsed = parse_fault(fault) if isinstance(fault, str) else fault
        with self._lock:
            self._plan.add(parsed)

    def register_node(self, name: str) -> None:
        """The agent of this host or container (by name or node_id) reports now: a node not registered yet
        appears (created now, so the topology delta reports it); an inactive one is active again, keeping its
        `created_at` as the console does."""
        with self._lock:
            node, now = self.dataset.node(name), self.state.now_ms()
            if self.state.created_at(node) > now:
                node.registered_at_ms = now - self.state.started_ms
            node.active = True

    def deregister_node(self, name: str) -> None:
        """This registered host or container (by name or node_id) goes inactive now, as when its agent stops
        reporting; a host takes its containers with it."""
        with self._lock:
            node, now = self.dataset.node(name), self.state.now_ms()
            if self.state.created_at(node) > now:
                raise ValueError(f"{name} has not registered yet")
            gone: list[AgentNode] = [node]
            if isinstance(node, Host):
                gone += [c for c in self.dataset.containers if c.host_name == node.name]
            for each in gone:
                if each.active and self.state.created_at(each) <= now:
                    each.active, each.deactivated_at = False, now

    def inject(
        self,
        path: str,
        status: int,
        times: int = 1,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        content_type: str | None = "application/json",
    ) -> None:
        """The next `times` requests to `path` (any method) get this answer instead of the real one.

        Without a body, error statuses carry the console's JSON error shape and others are empty. Faults
        added with `add_fault` come first; latency and trickle ones send injected answers late or slowly.
        """
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        if body is None:
            payload = simulated_failure(status).body
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body).encode()
        response = Response(status, payload, content_type if payload else None)
        with self._lock:
            self._faults.setdefault(path, deque()).append(_Fault(response, times))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        received = time.time()
        request = _read_request(environ)
        with self._lock:
            self.requests.append(request)
            fault = self._plan.take(request.path)
            response = self._respond(request) if fault is None else None
        if response is not None:
            reply: Reply | None = Reply.of(response)
        else:
            assert fault is not None
            reply = fault_reply(fault, lambda: self._respond_locked(request), self._sleep)
        if self._log is not None:
            status = reply.status if reply is not None else None
            self._log.write(received, request.method, request.path, status, fault.label if fault else None)
        if reply is None:
            drop_connection(environ)
        start_response(reply.status_line, reply.headers)
        return reply.body

    def _respond_locked(self, request: RecordedRequest) -> Response:
        with self._lock:
            return self._respond(request)

    def _build_routes(self) -> list[Route]:
        scan, registry = scan_api, registry_api
        read_scans, write_scans = Permission.SCAN_READ, Permission.SCAN_WRITE
        read_registries = Permission.REGISTRY_READ

        def route(method: str, path: str, handler: Handler, **options: Any) -> Route:
            return Route(method, re.compile(f"/deepfence{path}"), handler, **options)

        kind = "(?P<kind>vulnerability|secret|malware)"
        nodes = "(?P<nodes>hosts|containers)"

        return [
            route("GET", "/ping", lambda state, call: Response(200, b"pong", "text/plain; charset=utf-8"),
                  auth="public"),
            route("POST", "/auth/token", self._exchange_api_token, auth="public", shape=AUTH_REQUEST),
            route("POST", "/auth/token/refresh", self._refresh, auth="refresh"),
            route("GET", "/registryaccount", registry.list_registries, permission=read_registries),
            route("POST", "/registryaccount/images", registry.list_images, permission=read_registries,
                  shape=IMAGES_REQUEST),
            route("POST", "/registryaccount/count/images", registry.count_images, permission=read_registries,
                  shape=IMAGES_REQUEST),
            route("POST", "/registryaccount/(?P<registry_id>[^/]+)/sync", registry.sync_registry,
                  permission=Permission.REGISTRY_WRITE),
            route("POST", "/scan/start/vulnerability", scan.start_scan, permission=write_scans,
                  shape=START_REQUEST),
            route("POST", "/scan/start/(?P<kind>secret)", scan.start_scan, permission=write_scans,
                  shape=SECRET_START_REQUEST),
            route("POST", "/scan/start/(?P<kind>malware)", scan.start_scan, permission=write_scans,
                  shape=MALWARE_START_REQUEST),
            route("POST", f"/scan/status/{kind}", scan.scan_status, permission=read_scans, shape=STATUS_REQUEST),
            route("POST", f"/scan/results/{kind}", scan.scan_results, permission=read_scans,
                  shape=RESULTS_REQUEST),
            route("POST", f"/scan/results/count/{kind}", scan.count_results, permission=read_scans,
                  shape=RESULTS_REQUEST),
            route("POST", f"/scan/stop/{kind}", scan.stop_scan, permission=write_scans, shape=STOP_REQUEST),
            route("POST", f"/scan/list/{kind}", scan.list_scans, permission=read_scans, shape=LIST_REQUEST),
            route("POST", "/scan/sbom", sbom.get_sbom, permission=read_scans, shape=SBOM_REQUEST),
            route("POST", f"/search/{nodes}", node_api.search_nodes, shape=SEARCH_REQUEST),
            route("POST", f"/search/count/{nodes}", node_api.count_nodes, shape=SEARCH_REQUEST),
            route("GET", "/search/count/nodes", node_api.count_every_type),
            route("POST", "/graph/topology/delta", node_api.topology_delta, shape=DELTA_REQUEST),
        ]  # fmt: skip

    def _respond(self, request: RecordedRequest) -> Response:
        fault = self._take_fault(request.path)
        if fault is not None:
            return fault
        matches = [(r, m) for r in self._routes if (m := r.pattern.fullmatch(request.path))]
        chosen = next(((r, m) for r, m in matches if r.method == request.method), None)
        if chosen is None:
            if matches:
                return empty(405, (("Allow", ", ".join(sorted({r.method for r, _ in matches}))),))
            return error_response(404, "404 page not found")
        route, match = chosen
        try:
            user = self._authenticate(route, request.headers)
            if route.permission is not None and user is not None and not user.may(route.permission):
                return empty(403)
            body = parse_body(request.body, route.shape) if route.shape else {}
            return route.handler(self.state, Call(user, body, match.groupdict()))
        except ApiError as exc:
            return exc.response

    def _take_fault(self, path: str) -> Response | None:
        queue = self._faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault.response

    def _authenticate(self, route: Route, headers: dict[str, str]) -> ApiUser | None:
        if route.auth == "public":
            return None
        token = _bearer_token(headers)
        if token is None:
            raise ApiError(plain_text(401, "no token found"))
        kind = ACCESS if route.auth == "access" else REFRESH
        try:
            claims = self._issuer.verify(token, kind)
        except TokenRejected as exc:
            raise ApiError(plain_text(401, str(exc))) from exc
        if kind == ACCESS and self._access_token_uses is not None:
            used = self._token_uses.get(claims["jti"], 0)
            if used >= self._access_token_uses:
                raise ApiError(plain_text(401, "token is expired"))
            self._token_uses[claims["jti"]] = used + 1
        user = next((u for u in self.dataset.users if u.user_id == claims["user_id"]), None)
        if user is None:
            raise ApiError(plain_text(401, "token is unauthorized"))
        return user

    def _exchange_api_token(self, state: ConsoleState, call: Call) -> Response:
        api_token = call.body["api_token"]
        if not api_token_is_well_formed(api_token):
            raise ApiError(error_response(400, "", {"api_token": BAD_API_TOKEN}))
        user = state.dataset.user(api_token)
        if user is None:
            raise ApiError(error_response(500, "sql: no rows in result set"))
        return json_response(200, self._issuer.issue_pair(user))

    def _refresh(self, state: ConsoleState, call: Call) -> Response:
        assert call.user is not None  # the route authenticates with the refresh token
        return json_response(200, self._issuer.issue_pair(call.user))
