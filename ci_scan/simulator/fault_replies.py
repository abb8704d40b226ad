"""What a fault answers (faults.py): made-up statuses and bodies, streamed or trickled, or nothing at all."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from .faults import Fault
from .responses import JSON_TYPE, Response, simulated_failure

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

RESET_KEY = "ci_scan.simulator.reset"
"""Where the HTTP server (server.py) puts a callable in the environ: called, it resets the connection."""
MIB = 2**20
CHUNK = 256 * 1024
MALFORMED = b'{"message": "the reply ends here'
_PAGE = "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1></center>\r\n" \
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"  # fmt: skip


class DropConnection(ConnectionResetError):
    """Raised by the app for a `reset` fault instead of answering."""


class Reply(NamedTuple):
    """A WSGI answer: status, headers and a body iterable (which may sleep between chunks)."""

    status: int
    headers: list[tuple[str, str]]
    body: Iterable[bytes]

    @classmethod
    def of(cls, response: Response) -> Reply:
        return cls(response.status, response.header_list(), [response.body])

    @property
    def status_line(self) -> str:
        return Response(self.status).status_line


def fault_reply(fault: Fault, real: Callable[[], Response], sleep: Callable[[float], None]) -> Reply | None:
    """The answer to a request `fault` affects, None for a reset. `real()` is the console's own answer (it
    takes the simulator's lock itself); nothing here sleeps under that lock."""
    mode, status, arg = fault.mode, fault.answer_status, fault.arg or 0
    if mode == "reset":
        return None
    if mode == "latency":
        sleep(arg)
        return Reply.of(real())
    if mode == "trickle":
        response = real()
        return Reply(response.status, response.header_list(), _trickle(response.body, arg, sleep))
    if mode == "http":
        return Reply.of(simulated_failure(status))
    if mode == "retry-after":
        return Reply.of(simulated_failure(status, (("Retry-After", str(int(arg))),)))
    if mode == "malformed":
        return Reply.of(Response(status, MALFORMED, JSON_TYPE))
    if mode == "html":
        return Reply.of(Response(status, proxy_page(status), "text/html"))
    size = int(arg) * MIB
    if mode == "oversized":
        return Reply(status, [("Content-Type", JSON_TYPE), ("Content-Length", str(size))], padded_json(size))
    assert mode == "gzip-bomb", mode
    bomb = gzip_bomb(size)
    headers = [("Content-Type", JSON_TYPE), ("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))]
    return Reply(status, headers, [bomb])


def drop_connection(environ: WSGIEnvironment) -> NoReturn:
    """Ask the HTTP server, if there is one, to reset the connection; then give no answer."""
    reset = environ.get(RESET_KEY)
    if callable(reset):
        reset()
    raise DropConnection("the simulator reset the connection (a `reset` fault)")


def proxy_page(status: int) -> bytes:
    """The error page nginx writes in front of a console that does not answer."""
    return _PAGE.format(Response(status).status_line).encode()


def _trickle(body: bytes, seconds: float, sleep: Callable[[float], None]) -> Iterator[bytes]:
    """The body one byte at a time, `seconds` apart (the first byte at once)."""
    for index in range(len(body)):
        if index:
            sleep(seconds)
        yield body[index : index + 1]


def padded_json(size: int) -> Iterator[bytes]:
    """`{"message":"xxx...x"}`, exactly `size` bytes (at least 14), in chunks of CHUNK bytes or fewer."""
    head, tail = b'{"message":"', b'"}'
    yield head
    left = size - len(head) - len(tail)
    block = b"x" * CHUNK
    while left > 0:
        piece = block if left >= CHUNK else block[:left]
        left -= len(piece)
        yield piece
    yield tail


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """`padded_json(size)` gzip-compressed: about a thousandth of its size; built once per size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(chunk) for chunk in padded_json(size)]
    return b"".join(parts) + compressor.flush()
