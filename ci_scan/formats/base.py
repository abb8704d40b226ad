"""What every report format is, and the helpers all formats share."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Protocol
from urllib.parse import urlsplit

from ci_scan.decision import Decision
from ci_scan.formats.text import short_digest
from ci_scan.models import Finding, Target, TargetResult
from ci_scan.models import report_key as report_key  # the reports import it from here

_SURROGATES = re.compile("[\ud800-\udfff]")


class Format(Protocol):
    """A report format. `render` is pure: no I/O, no environment, no clock; same input, same text."""

    name: str
    description: str
    default_filename: str

    def render(self, decision: Decision) -> str:
        """The report of every target in `decision` (which holds the run's results)."""
        ...


class Unique:
    """Names made unique by numbering repeats: the base the first time, then `numbered(2)`,
    `numbered(3)`... skipping any already taken. Each repeat costs one step, not one per earlier repeat
    (consoles repeat rows by the thousand)."""

    def __init__(self, *taken: str) -> None:
        self._taken: dict[str, int] = dict.fromkeys(taken, 1)
        """Names taken -> the last number a repeat of that name was given."""

    def take(self, base: str, numbered: Callable[[int], str]) -> str:
        candidate, number = base, self._taken.get(base, 1)
        while candidate in self._taken:
            number += 1
            candidate = numbered(number)
        if candidate != base:
            self._taken[base] = number
        self._taken.setdefault(candidate, 1)
        return candidate

    def reserve(self, name: str) -> None:
        """Take `name` as it is (it is unique by construction)."""
        self._taken.setdefault(name, 1)


def finding_fingerprint(finding: Finding, target: Target) -> str:
    """Stable across tags and digests: it is keyed on the repository (`fingerprint_key`)."""
    return finding.fingerprint(fingerprint_key(target))


def fingerprint_key(target: Target) -> str:
    """What a target's findings' fingerprints are keyed on (work it out once for a target's many findings)."""
    return target.repository


def target_labels(targets: Sequence[Target]) -> list[str]:
    """A name for each target, unique within the run.

    A target's label is its name. Targets that share a name but not a digest (one tag, several
    architectures) get the first 12 hex digits of their digest: `app:1.0 (0123456789ab)`. A label
    still taken (the same image twice) gets " #2", " #3"... in order.
    """
    digests: dict[str, set[str | None]] = {}
    for target in targets:
        digests.setdefault(target.name, set()).add(target.digest)
    taken: set[str] = set()
    labels = []
    for target in targets:
        label = target.name
        if len(digests[target.name]) > 1 and target.digest:
            label = f"{target.name} ({short_digest(target.digest)})"
        candidate, number = label, 1
        while candidate in taken:
            number += 1
            candidate = f"{label} #{number}"
        taken.add(candidate)
        labels.append(candidate)
    return labels


def utc_datetime(epoch_ms: int) -> datetime | None:
    """The console's epoch milliseconds as an aware UTC datetime; None when unknown or impossible."""
    if epoch_ms <= 0:
        return None
    seconds, millis = divmod(epoch_ms, 1000)
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(microsecond=millis * 1000)
    except (OverflowError, OSError, ValueError):  # beyond the year 9999: not a time the console meant
        return None


def iso_utc(epoch_ms: int) -> str | None:
    """`2024-11-28T00:00:00.000Z`, or None when the time is unknown."""
    moment = utc_datetime(epoch_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def duration_ms(result: TargetResult) -> int:
    """How long the scan took; 0 when either end is unknown."""
    if result.started_at_ms > 0 and result.finished_at_ms >= result.started_at_ms:
        return result.finished_at_ms - result.started_at_ms
    return 0


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate (unencodable in UTF-8) as U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def dump_json(data: object, *, indent: int | None = 2) -> str:
    """UTF-8-safe JSON text with a trailing newline."""
    text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    try:
        text.encode("utf-8")  # far faster than searching for surrogates that are almost never there
    except UnicodeEncodeError:
        return without_surrogates(text)
    return text


def dump_json_rows(data: object, *, rows: str) -> str:
    """As `dump_json` (indent 2), but each item of a list under the key `rows` on one line: as easy
    to read and to diff, and written by json's C encoder (which does not indent: indenting 20,000
    findings in Python took 2.4 s, writing them this way a fifth of that)."""
    parts: list[str] = []
    _layout(data, "", rows, parts)
    parts.append("\n")
    text = "".join(parts)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return without_surrogates(text)
    return text


def _layout(value: object, indent: str, rows: str, parts: list[str], *, one_per_line: bool = False) -> None:
    inner = indent + "  "
    if isinstance(value, dict) and value:
        parts.append("{")
        for number, (key, item) in enumerate(value.items()):
            parts.append(f"{',' if number else ''}\n{inner}{json.dumps({key: 0}, ensure_ascii=False)[1:-4]}: ")
            _layout(item, inner, rows, parts, one_per_line=key == rows)
        parts.append(f"\n{indent}}}")
    elif isinstance(value, (list, tuple)) and value:
        parts.append("[")
        for number, item in enumerate(value):
            parts.append(f"{',' if number else ''}\n{inner}")
            if one_per_line:
                parts.append(json.dumps(item, ensure_ascii=False))
            else:
                _layout(item, inner, rows, parts)
        parts.append(f"\n{indent}]")
    else:
        parts.append(json.dumps(value, ensure_ascii=False))


def url_host(url: str) -> str:
    """The host name in `url`; "" when there is none or the URL cannot be parsed."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
