"""Writing reports: all rendered before any is put in place, each written atomically."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ci_scan.decision import Decision
from ci_scan.errors import ConfigError
from ci_scan.formats.base import Format
from ci_scan.report_paths import is_stdout

STDOUT = "-"
REPORT_MODE = 0o644
FIFO_WAIT = 5.0
"""Seconds to wait for a reader of a FIFO report."""


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, before any thread starts
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_report(path: Path | str, text: str) -> Path:
    """Write `text` (UTF-8) to `path`, or to stdout for "-"; a reader never sees a partial file.

    The text goes to a temporary file beside `path`, is flushed to disk, then renamed over it; through a
    symlink, over the file it points at. A path that is no regular file (a device such as /dev/stdout, a
    FIFO) is written into as it is, never replaced.
    Missing parent directories are created; the file gets mode 0o644 less the umask.
    Raises ConfigError naming the path and the system's reason.
    """
    if is_stdout(str(path)):  # also /dev/stdout: through the stream, whatever it is (a file, a socket)
        _write_stdout(text)
        return Path(path)
    data = text.encode("utf-8", errors="replace")
    target = _replaced_file(path)
    if target is None:
        # /dev/stdout, /dev/null, a FIFO a CI step reads: written into, never swapped for a regular file.
        return _write_in_place(Path(path), data)
    _commit(_stage(target, data, path), target, path)
    return Path(path)


def _replaced_file(path: Path | str) -> Path | None:
    """The file a report at `path` is renamed over (through a symlink, the file it points at); None for
    standard output and for what is written into as it is (a device, a FIFO)."""
    if is_stdout(str(path)):
        return None
    target = Path(path)
    try:
        found = os.stat(target)  # through any symlink
    except OSError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode) and not stat.S_ISDIR(found.st_mode):
        return None
    return Path(os.path.realpath(target)) if target.is_symlink() else target  # the link stays


def _stage(target: Path, data: bytes, given: Path | str) -> str:
    """`data` in a temporary file beside `target`, flushed to disk; its name."""
    temp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            os.fchmod(file.fileno(), REPORT_MODE & ~_UMASK)
    except OSError as error:
        if temp_name is not None:
            _discard(temp_name)
        raise ConfigError(f"cannot write report {given}: {error.strerror or error}") from error
    return temp_name


def _commit(temp_name: str, target: Path, given: Path | str) -> None:
    try:
        os.replace(temp_name, target)
    except OSError as error:
        _discard(temp_name)
        raise ConfigError(f"cannot write report {given}: {error.strerror or error}") from error


def _discard(temp_name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temp_name)


def write_reports(requests: Sequence[tuple[Format, Path | str]], decision: Decision) -> list[Path]:
    """Render every requested report, then put each in place; returns the paths written.

    A renderer that raises leaves every file untouched. A report that cannot be written does not
    stop the others: the errors are raised together, as one ConfigError, after the rest are written.
    """
    _refuse_shared_paths(requests)
    # Each report goes to its temporary file as soon as it is rendered, so that a big run holds one
    # report's text at a time, not all six (hundreds of MiB at 100,000 findings); the files are renamed
    # into place only once every report has rendered. Standard output, devices, FIFOs and reports in a
    # folder still to be made keep their text until then.
    staged: list[tuple[Path | str, str | None, tuple[str, Path] | ConfigError | None]] = []
    try:
        for fmt, path in requests:
            text = fmt.render(decision)
            target = _replaced_file(path)
            if target is None or not target.parent.is_dir():
                staged.append((path, text, None))
                continue
            try:
                temp = _stage(target, text.encode("utf-8", errors="replace"), path)
            except ConfigError as error:
                staged.append((path, None, error))
            else:
                staged.append((path, None, (temp, target)))
    except BaseException:
        for _, _, ready in staged:
            if isinstance(ready, tuple):
                _discard(ready[0])
        raise
    outcomes = [_settle(path, text, ready) for path, text, ready in staged]
    errors = [str(outcome) for outcome in outcomes if isinstance(outcome, ConfigError)]
    written = [outcome for outcome in outcomes if isinstance(outcome, Path)]
    if errors:
        raise ReportsNotWritten("; ".join(errors), written)
    return written


class ReportsNotWritten(ConfigError):
    """Some reports could not be written; `written` names those that were."""

    def __init__(self, message: str, written: list[Path]) -> None:
        super().__init__(message)
        self.written = written


def _settle(path: Path | str, text: str | None, ready: tuple[str, Path] | ConfigError | None) -> Path | ConfigError:
    """A staged report renamed into place, or one kept in memory written; the error if it fails."""
    if isinstance(ready, ConfigError):
        return ready
    try:
        if ready is not None:
            _commit(*ready, path)
            return Path(path)
        return write_report(path, text or "")
    except ConfigError as error:
        return error


def _refuse_shared_paths(requests: Sequence[tuple[Format, Path | str]]) -> None:
    seen: dict[str, str] = {}
    for fmt, path in requests:
        key = STDOUT if str(path) == STDOUT else os.path.realpath(path)
        if key in seen:
            raise ConfigError(f"the {seen[key]} and {fmt.name} reports would both be written to {path}")
        seen[key] = fmt.name


def _write_in_place(target: Path, data: bytes) -> Path:
    """A device or a FIFO, written into. A FIFO nobody reads yet is waited for a few seconds, not forever."""
    give_up = time.monotonic() + FIFO_WAIT
    while True:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as error:
            if error.errno == errno.ENXIO and time.monotonic() < give_up:  # a FIFO with no reader yet
                time.sleep(0.1)
                continue
            reason = "nothing reads from it" if error.errno == errno.ENXIO else error.strerror or error
            raise ConfigError(f"cannot write report {target}: {reason}") from error
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except OSError as error:
        raise ConfigError(f"cannot write report {target}: {error.strerror or error}") from error
    return target


def _write_stdout(text: str) -> Path:
    """UTF-8 whatever the locale, unless stdout has been replaced by a text-only stream."""
    try:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            sys.stdout.write(text)
        else:
            buffer.write(text.encode("utf-8", errors="replace"))
        sys.stdout.flush()
    except OSError as error:
        raise ConfigError(f"cannot write report to stdout: {error.strerror or error}") from error
    return Path(STDOUT)
