"""Scripted faults: which requests the simulator answers badly, and how.

A fault is written `PATH=MODE[:ARG][,OPTION]...`:

    PATH    an exact request path, `/deepfence/auth/token`, or a prefix ending in `*`, `/deepfence/scan/*`
            (a prefix never matches `/deepfence/ping`, so readiness probes neither fail nor use up counts)
    MODE    http:STATUS          STATUS (200-599) with the console's JSON error shape
            retry-after:SECONDS  429 (or status=) with `Retry-After: SECONDS` (a whole number)
            reset                no answer at all: the connection is reset (real HTTP only, see below)
            trickle:SECONDS      the real answer, its body one byte every SECONDS
            latency:SECONDS      the real answer, SECONDS late
            oversized:MIB        200 (or status=), a JSON body of MIB MiB, streamed
            gzip-bomb:MIB        200 (or status=), a small gzip body (`Content-Encoding: gzip`) that
                                 inflates to MIB MiB of JSON
            malformed            200 (or status=), an application/json body that is not JSON
            html[:STATUS]        STATUS (502), a proxy's HTML error page (text/html)
    OPTION  times=N              affect N matching requests (default 1); times=0 or `always`: every one
            after=K              let the first K matching requests through first
            status=N             the status of retry-after, oversized, gzip-bomb and malformed

e.g. `/deepfence/scan/status/vulnerability=http:503,times=3`, `/deepfence/auth/token=reset,after=1`.

Each fault counts the requests whose path it matches (any method), from when it is added, and
affects numbers after+1 to after+times. When several faults affect one request, the first one given
wins (the others still count it). Faults never change the console's state, except that `trickle` and
`latency` send the real answer (a status poll still moves its scan on); they also send injected answers
(`ConsoleSimulator.inject`), which is how to trickle a body of one's own.

`reset` over real HTTP closes the socket with a TCP reset before any byte of an answer. In-process the
app raises `DropConnection`, a ConnectionResetError that httpx's WSGITransport does not translate: wrap
the transport to turn it into `httpx.ReadError` if the client under test only handles httpx errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

PING = "/deepfence/ping"
MAX_MIB = 4096
# mode -> (its argument: "status", "whole" seconds, "seconds" or "mib", or None; whether it is required)
_ARGUMENTS: dict[str, tuple[str | None, bool]] = {
    "http": ("status", True),
    "retry-after": ("whole", True),
    "reset": (None, False),
    "trickle": ("seconds", True),
    "latency": ("seconds", True),
    "oversized": ("mib", True),
    "gzip-bomb": ("mib", True),
    "malformed": (None, False),
    "html": ("status", False),
}
_SHOWN = {"status": "STATUS", "whole": "SECONDS", "seconds": "SECONDS", "mib": "MIB"}
MODES = tuple(_ARGUMENTS)
_WITH_STATUS = frozenset({"retry-after", "oversized", "gzip-bomb", "malformed"})
_DEFAULT_STATUS = {"retry-after": 429, "html": 502}


@dataclass(frozen=True)
class Fault:
    """One scripted fault; see the module docstring. `arg` is the mode's argument (a status, seconds or
    MiB), `times` 0 means every matching request."""

    path: str
    mode: str
    arg: float | None = None
    times: int = 1
    after: int = 0
    status: int | None = None

    def __post_init__(self) -> None:
        _check_path(self.path)
        if self.mode not in _ARGUMENTS:
            raise ValueError(f"unknown mode {self.mode!r} (one of {', '.join(MODES)})")
        kind, required = _ARGUMENTS[self.mode]
        if self.arg is None and required:
            raise ValueError(f"{self.mode} needs an argument ({self.mode}:{_SHOWN[kind or 'status']})")
        if self.arg is not None:
            if kind is None:
                raise ValueError(f"{self.mode} takes no argument")
            _check_number(kind, self.arg, self.mode)
        if self.times < 0 or self.after < 0:
            raise ValueError("times and after must not be negative")
        if self.status is not None:
            if self.mode not in _WITH_STATUS:
                raise ValueError(f"status= does not apply to {self.mode}")
            _check_number("status", self.status, "status")

    @property
    def label(self) -> str:
        """The mode and its argument, e.g. `http:503`, as the request log names the fault."""
        return self.mode if self.arg is None else f"{self.mode}:{_text(self.arg)}"

    @property
    def answer_status(self) -> int:
        """The status of a made-up answer (not used by reset, trickle and latency)."""
        if self.status is not None:
            return self.status
        if self.mode in ("http", "html") and self.arg is not None:
            return int(self.arg)
        return _DEFAULT_STATUS.get(self.mode, 200)

    def matches(self, path: str) -> bool:
        if self.path.endswith("*"):
            return path != PING and path.startswith(self.path[:-1])
        return path == self.path

    def affects(self, number: int) -> bool:
        """Whether the `number`-th matching request (from 1) is one this fault answers."""
        return number > self.after and (self.times == 0 or number <= self.after + self.times)


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise ValueError(f"the path must start with '/', not {path!r}")
    if "*" in path[:-1]:
        raise ValueError(f"'*' may only end the path: {path!r}")


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_number(kind: str, value: float, name: str) -> None:
    whole = float(value).is_integer()
    if kind == "status" and not (whole and 200 <= value <= 599):
        raise ValueError(f"{name} must be a status from 200 to 599, not {_text(value)}")
    if kind == "whole" and not (whole and value >= 0):
        raise ValueError(f"{name} must be a whole number of seconds, not {_text(value)}")
    if kind == "seconds" and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a number of seconds, not {_text(value)}")
    if kind == "mib" and not (whole and 1 <= value <= MAX_MIB):
        raise ValueError(f"{name} must be a whole number of MiB from 1 to {MAX_MIB}, not {_text(value)}")


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {text!r}")
    return value


def _count(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} must be a whole number, not {text!r}")
    return int(text)


def parse_fault(spec: str) -> Fault:
    """A `Fault` from its text; a ValueError (one line, quoting the spec) when it is not one."""
    try:
        return _parse(spec.strip())
    except ValueError as exc:
        raise ValueError(f"bad fault {spec!r}: {exc}") from None


def _parse(spec: str) -> Fault:
    path, equals, rest = spec.partition("=")
    if not equals or not path or not rest:
        raise ValueError("expected PATH=MODE[:ARG][,OPTION]...")
    mode_text, *options = rest.split(",")
    mode, colon, arg_text = mode_text.partition(":")
    if mode not in _ARGUMENTS:
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    arg = _number(arg_text, mode) if colon else None
    settings: dict[str, int] = {}
    for option in options:
        name, equals, value = option.partition("=")
        if option == "always":
            name, value = "times", "0"
        elif not equals or name not in ("times", "after", "status"):
            raise ValueError(f"unknown option {option!r} (times=N, always, after=K, status=N)")
        if name in settings:
            raise ValueError(f"{name} given twice")
        settings[name] = _count(value, name)
    return Fault(path, mode, arg, settings.get("times", 1), settings.get("after", 0), settings.get("status"))


def parse_faults(texts: Iterable[str]) -> list[Fault]:
    """Every fault in `texts`, each of which may hold several separated by ';' (blank ones are skipped)."""
    return [parse_fault(spec) for text in texts for spec in text.split(";") if spec.strip()]


class FaultPlan:
    """The faults in the order given, with how many requests each has matched. Not thread-safe: the
    simulator calls it under its lock."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults: list[Fault] = []
        self._seen: list[int] = []
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)
        self._seen.append(0)

    def take(self, path: str) -> Fault | None:
        """The fault that answers this request, if any; every fault matching `path` counts it."""
        chosen = None
        for index, fault in enumerate(self.faults):
            if fault.matches(path):
                self._seen[index] += 1
                if chosen is None and fault.affects(self._seen[index]):
                    chosen = fault
        return chosen
