"""Exit codes and the one error hierarchy; every error knows the exit code it ends with."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import ClassVar

_SHORTEST_SECRET = 6
"""Shorter values are no real token, and replacing them would garble messages."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, "***")
    return text


class ExitCode(IntEnum):
    PASSED = 0
    GATE_FAILED = 1
    USAGE = 2
    SCAN_INCOMPLETE = 3
    TIMED_OUT = 4
    INTERRUPTED = 130
    """SIGINT (128 + 2), as shells report it."""
    TERMINATED = 143
    """SIGTERM (128 + 15): a cancelled CI job."""


class CiScanError(Exception):
    """Base of every error ci-scan reports. The message is one line for the user."""

    exit_code: ExitCode = ExitCode.SCAN_INCOMPLETE
    hint: str = ""
    _outage: ClassVar[bool] = False

    @property
    def outage(self) -> bool:
        """The console could not be reached, failed, or did not answer in time: what `--on-error pass`
        lets through. Bad data, a refused token and a failed TLS check never are."""
        return self._outage

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def one_line(self) -> str:
        text = str(self)
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(CiScanError):
    """Bad options or settings: the user has to change the command."""

    exit_code = ExitCode.USAGE


class Interrupted(CiScanError):
    """SIGINT or SIGTERM (a cancelled CI job) arrived during the run."""

    def __init__(self, signal_number: int, name: str) -> None:
        super().__init__(f"stopped by {name}")
        self.signal_name = name
        self.exit_code = ExitCode.INTERRUPTED if name == "SIGINT" else ExitCode.TERMINATED


class ConsoleError(CiScanError):
    """The console could not be used: nothing about the image is known."""

    def __init__(self, message: str, *, hint: str = "", status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        """The HTTP status the console answered with, when it answered."""


class ConsoleUnreachable(ConsoleError):
    hint = "check --console-url, the network and any proxy between CI and the console"
    _outage = True


class TlsError(ConsoleUnreachable):
    hint = "pass the console's CA with --ca-bundle, or --insecure to skip verification"
    _outage = False  # a certificate that does not verify may be an attacker's: never passed over


class AuthError(ConsoleError):
    hint = "check the API token (Settings > User Management > API key) and its user's role"


class PermissionDenied(AuthError):
    """The token is valid but its user's role may not do this."""


class NotFound(ConsoleError):
    """The console does not know the node, scan or registry asked for."""


class ConsoleResponseError(ConsoleError):
    """The console answered with an error status or a reply ci-scan cannot read."""

    @property
    def outage(self) -> bool:
        """A gateway error, an unavailable console or a busy one is the console failing. A 500 is not: the
        console answers so for a bad target too (an image without a tag, API_NOTES §4), and a reply that
        cannot be read is bad data."""
        return self.status in (429, 502, 503, 504)


class TargetNotFound(ConsoleError):
    """The image (or registry) is not on the console."""


class ScanFailed(ConsoleError):
    """The console ran the scan but it ended without results."""


class ScanTimeout(CiScanError):
    exit_code = ExitCode.TIMED_OUT
    _outage = True
    hint = "raise --timeout, or check that the console's scanners are running"
