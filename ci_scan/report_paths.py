"""Checking report paths before any scan starts, so a typo fails in a second, not after the scan."""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Sequence

from ci_scan.errors import ConfigError

STDOUT = "-"

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
"""Control, format (bidi overrides), lone surrogates (undecodable bytes) and line/paragraph breaks."""


def is_stdout(path: str) -> bool:
    """`-`, or a path that is this process's standard output (`/dev/stdout`, `/dev/fd/1`)."""
    if path == STDOUT:
        return True
    if path in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        return True
    try:
        return os.path.samefile(path, "/dev/stdout")
    except (OSError, ValueError):  # no such file, or a NUL in the path (refused later, with a message)
        return False


def report_key(path: str) -> str:
    """Where a report at `path` really goes: "-" for standard output, else an absolute path.

    Symlinks in the existing part are resolved; `.` and `..` in the missing part are collapsed
    lexically, as the writer creates those directories. Case is kept as given: two spellings that
    differ only in case are different keys, even on a case-insensitive filesystem.
    """
    if path == STDOUT:
        return STDOUT
    return os.path.realpath(path)


def check_report_paths(requests: Sequence[tuple[str, str]]) -> None:
    """Raise ConfigError, one line naming the option and path, when a report cannot be written.

    `requests` are (format name, path as given), "-" meaning standard output. Each path must be
    non-empty, name a file (not a directory), and have as nearest existing ancestor a directory this
    process may create files in; an existing file must be writable. No two reports may share
    standard output or a file, however the paths are spelled.
    """
    stdout_owner: str | None = None
    seen: dict[str, tuple[str, str]] = {}
    for name, path in requests:
        if is_stdout(path):
            if stdout_owner is not None:
                raise ConfigError(
                    f"--{name} -: --{stdout_owner} already writes to standard output and only one report can; "
                    f"give --{name} a file path"
                )
            stdout_owner = name
            continue
        _check_one(name, path)
        keys = {os.path.normpath(os.path.abspath(path)), report_key(path)}
        for key in keys:
            if key in seen:
                other_name, other_path = seen[key]
                raise ConfigError(
                    f"--{name} {_show(path)}: is the same file as --{other_name} {_show(other_path)}; "
                    "give each report its own path"
                )
        for key in keys:
            seen[key] = (name, path)


def _check_one(name: str, path: str) -> None:
    option = f"--{name} {_show(path)}"
    if not path:
        raise ConfigError(f"--{name} was given an empty path; give a file path, or - for standard output")
    if "\0" in path:
        raise ConfigError(f"{option}: contains a NUL character, which a file name cannot hold; remove it")
    if os.path.isdir(path):
        raise ConfigError(f"{option}: is a directory; give a file path, such as one inside it")
    if path.endswith(tuple(os.sep + (os.altsep or ""))):
        raise ConfigError(f"{option}: ends with a path separator, so it names a directory; add a file name")
    if os.path.basename(path) in (os.curdir, os.pardir):
        raise ConfigError(f"{option}: ends with {os.path.basename(path)}, so it names a directory; add a file name")
    if os.path.exists(path):
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise ConfigError(
                f"{option}: is not a file, a device or a pipe (a socket?); give a file path, "
                "or - for standard output"
            )
        if not os.access(path, os.W_OK):
            raise ConfigError(
                f"{option}: the file exists and is not writable; fix its permissions or choose another path"
            )
    ancestor = _nearest_existing_ancestor(path)
    shown = _show(os.path.abspath(ancestor) if ancestor == "." else ancestor)
    if os.path.lexists(ancestor) and not os.path.exists(ancestor):
        raise ConfigError(f"{option}: {shown} is a broken symbolic link; fix or remove it, or choose another path")
    if not os.path.exists(ancestor):
        raise ConfigError(f"{option}: no directory on the way to it exists; give a path in an existing directory")
    if not os.path.isdir(ancestor):
        what = "a file" if os.path.isfile(ancestor) else "not a directory"
        raise ConfigError(
            f"{option}: {shown} is {what}, so it cannot hold the report; choose another path or remove {shown}"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{option}: the directory {shown} is not writable; choose a writable directory or fix its permissions"
        )


def _nearest_existing_ancestor(path: str) -> str:
    """The closest parent of `path`, spelled as the user spelled it, that exists (or is a dangling link).

    Walks the path as given rather than normalised, so `a/..` counts as missing when `a` is, and as
    not a directory when `a` is a file, which is what the kernel (and so the writer) sees.
    """
    ancestor = os.path.dirname(path) or os.curdir
    while not os.path.lexists(ancestor):
        parent = os.path.dirname(ancestor) or os.curdir
        if parent == ancestor:
            break
        ancestor = parent
    return ancestor


def _show(text: str) -> str:
    """`text` as plain text, with anything that could break or disguise the line escaped."""
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8, decoded with surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
