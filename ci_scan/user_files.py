"""Reading the files users give (policy, ignore, VEX, baseline, image lists): one wording for every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_scan.errors import ConfigError


def read_user_file(path: str, what: str) -> str:
    """The UTF-8 text of `path` (a byte-order mark is dropped); `what` names the file in messages."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path} line {line}: {what} is not UTF-8 (byte 0x{data[exc.start]:02x}): save it as "
                          "UTF-8") from None


def yaml_line(node: Any) -> int:
    """The 1-based line where a YAML node starts."""
    return int(node.start_mark.line) + 1


def yaml_error(path: str, exc: Exception) -> ConfigError:
    """A YAML parser's error (or a value it could not build) as one line naming the file and the line."""
    mark = getattr(exc, "problem_mark", None)
    line = f" line {mark.line + 1}" if mark is not None else ""
    if isinstance(exc, ValueError):  # e.g. an integer of thousands of digits
        return ConfigError(f"{path}: a value cannot be read ({exc})")
    return ConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})")
