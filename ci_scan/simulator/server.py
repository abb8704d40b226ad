"""Serving the simulator over real HTTP with the standard library (wsgiref, one thread per request)."""

from __future__ import annotations

import functools
import os
import socket
import struct
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .data import Dataset
from .fault_replies import RESET_KEY
from .faults import Fault

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr; and a `reset` fault (fault_replies.py) resets the connection."""

    _reset = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        """No access log on stderr."""

    def get_environ(self) -> WSGIEnvironment:
        environ = super().get_environ()
        environ[RESET_KEY] = self._reset_later
        return environ

    def _reset_later(self) -> None:
        self._reset = True

    def handle(self) -> None:
        super().handle()  # one request per connection, as wsgiref does
        if self._reset:  # close at once, with SO_LINGER 0: a TCP reset, not a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()


class RunningServer:
    """A server answering in a background thread; `shutdown()` (or leaving `with`) stops it."""

    def __init__(self, server: _ThreadingWSGIServer) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"
        serve = functools.partial(server.serve_forever, poll_interval=0.05)  # quick to shut down
        self._thread = threading.Thread(target=serve, name="console-simulator", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.shutdown()


def _make(app: WSGIApplication, host: str, port: int) -> _ThreadingWSGIServer:
    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    assert isinstance(server, _ThreadingWSGIServer)
    return server


def serve(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving `app`; port 0 picks a free port (see `.url`)."""
    return RunningServer(_make(app, host, port))


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8080,
    dataset: Dataset | None = None,
    *,
    faults: Iterable[Fault | str] = (),
    request_log: str | os.PathLike[str] | None = None,
    access_token_uses: int | None = None,
) -> None:
    """Serve a fresh simulator in this thread until KeyboardInterrupt. Prints nothing."""
    from .app import ConsoleSimulator

    sim = ConsoleSimulator(dataset, faults=faults, request_log=request_log, access_token_uses=access_token_uses)
    server = _make(sim, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
