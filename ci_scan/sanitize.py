"""Make console text and numbers safe to use and to print.

Everything the console sends is untrusted. This module is the one place that cleans it.

Wire boundary (`clean_text`, `clean_number`, `clean_int`):

- A lone surrogate (U+D800-U+DFFF, which `json.loads` builds from an escape like "\\ud800") becomes
  U+FFFD, because it makes UTF-8 encoding, and so printing and report writing, crash. NUL is removed.
- A number is a finite float or an int within a limit; bools, strings, NaN, infinities and ints too
  big for a float are "not a number" (None) instead of an error deep in the code that uses them.

Printing (`for_log`, `neutral_line_start`). A console string printed to a terminal or CI log could
otherwise recolour or rewrite the screen, hide text, spoof what a reader sees, or run a CI command.
`for_log` does, in this order:

1. Lone surrogates become U+FFFD.
2. Terminal escape sequences are removed whole: CSI (ESC [ ... final, or 8-bit U+009B ... final),
   string sequences OSC/DCS/SOS/PM/APC (ESC ], P, X, ^, _ or their 8-bit forms, up to BEL or ST;
   this covers OSC 8 links and window titles) and other ESC sequences (ESC, intermediates, final).
   An unterminated string sequence loses only its opening, so no text is swallowed.
3. All other C1 controls (U+0080-U+009F) are removed. They are never text, and some terminals act on them.
4. A tab becomes one space.
5. Every other character that is not plainly visible is written as a Python-style escape (`\\x1b`,
   `\\n`, `\\r`, `\\x7f`, `\\u202e`, `\\U000e0041`), so a reader sees that something was there: C0
   controls (including BEL, backspace, CR and LF), DEL, format characters (bidi overrides and
   isolates, zero-width characters, soft hyphen, BOM, tag characters), U+2028/U+2029, private-use
   and unassigned code points, and other default-ignorable characters (variation selectors, Hangul
   fillers). Ordinary spaces (U+00A0, U+3000 and the like) stay. Backslashes are not doubled, so an
   escape cannot be told from the same text sent literally; the output is for reading, not parsing.
   After this step the text is one line: nothing is left that a terminal or CI runner ends a line on.
6. `##` + letters + `[` anywhere becomes `##...\\x5b`: the Azure Pipelines agent (`##vso[`), the
   GitHub runner's old syntax (`##[`) and TeamCity (`##teamcity[`) act on these anywhere in a line.
7. If the result, after leading whitespace, starts like a CI command (`::` for GitHub Actions,
   `##[` / `##vso[` for Azure Pipelines, `section_start:` / `section_end:` for GitLab), `>` is put in
   front. The GitHub runner trims leading whitespace and then needs `::` first, so a leading space does
   not help but any visible character does. Step 7 applies even when the text is mid-line, because the
   code that prints it may put only whitespace before it.

Step 5 also defeats matching tricks: .NET's default (culture-aware) string search, which the GitHub
runner uses, can ignore zero-width characters, so a raw U+200B before `::` might not protect; escaped,
the text starts with a backslash instead.

`neutral_line_start` applies steps 6 and 7 to a whole line that ci-scan builds from its own words and
`for_log` pieces; before looking for a prefix it skips whitespace and any invisible characters.
"""

from __future__ import annotations

import math
import re

MARKER = ">"
"""Put in front of a line or piece that would otherwise start like a CI command."""

_COMMAND_PREFIXES = ("::", "##[", "##vso[", "section_start:", "section_end:")
_LONGEST_PREFIX = max(len(p) for p in _COMMAND_PREFIXES)

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"  # CSI: parameters, intermediates, final
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x80-\x9f]*(?:\x07|\x1b\\|\x9c)"  # string, to BEL/ST
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"  # any other ESC sequence
)
_C1 = re.compile("[\x80-\x9f]")
_NOT_PLAIN_ASCII = re.compile("[^\x20-\x7e]+")
# Planes 4-13 (never assigned so far) and 15-16 (private use): escaped in bulk, which is much faster.
_UNUSED_PLANES = re.compile("[\U00040000-\U000dffff\U000f0000-\U0010ffff]+")
_INLINE_COMMAND = re.compile(r"(##[A-Za-z]*)\[")
# Characters that are not printable by str.isprintable() but that we keep: the Unicode spaces (Zs).
_SPACES = frozenset("\u00a0\u1680\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))
# Default-ignorable characters that str.isprintable() accepts: they are invisible, so we escape them.
_PRINTABLE_IGNORABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def clean_text(value: str) -> str:
    """Return a console string with lone surrogates replaced by U+FFFD and NUL removed."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value


def clean_number(value: object, *, limit: float = 1e9) -> float | None:
    """Return a console number as a finite float, or None if it is not a usable number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    if not math.isfinite(number) or abs(number) > limit:
        return None
    return number


def clean_int(value: object, *, limit: int = 2**53) -> int | None:
    """Return a console count or timestamp as an int within +/-limit, or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if -limit <= value <= limit:
        return int(value)
    return None


def for_log(text: str) -> str:
    """Return console text that is safe to print as part of one terminal or CI log line."""
    if not text.isprintable() or (not text.isascii() and _PRINTABLE_IGNORABLE.search(text)):
        text = _make_visible(text)
    marked = _starts_like_command(text)
    if "#" in text:
        text = _INLINE_COMMAND.sub(r"\1\\x5b", text)
    return MARKER + text if marked else text


def neutral_line_start(line: str) -> str:
    """Return a line to print with `>` put in front if it would start like a CI command.

    Also breaks up `##...[` anywhere in it, as `for_log` does, in case two printed pieces join up.
    """
    marked = _starts_like_command(line)
    if "#" in line:
        line = _INLINE_COMMAND.sub(r"\1\\x5b", line)
    return MARKER + line if marked else line


def _make_visible(text: str) -> str:
    """Steps 1 to 5 of `for_log`."""
    text = _SURROGATE.sub("\ufffd", text)
    if "\x1b" in text or "\x9b" in text or _C1.search(text):
        text = _C1.sub("", _ESCAPE_SEQUENCE.sub("", text))
    text = text.replace("\t", " ")
    text = _UNUSED_PLANES.sub(_escape_run, text)
    return _NOT_PLAIN_ASCII.sub(_visible_run, text)


def _visible_run(match: re.Match[str]) -> str:
    run = match.group()
    if run.isprintable() and not _PRINTABLE_IGNORABLE.search(run):
        return run
    return "".join([char if _keep(char) else _escape(char) for char in run])


def _keep(char: str) -> bool:
    return char in _SPACES or (char.isprintable() and not _PRINTABLE_IGNORABLE.match(char))


def _escape_run(match: re.Match[str]) -> str:
    return match.group().encode("ascii", "backslashreplace").decode("ascii")


def _escape(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if char < "\x80":
        return f"\\x{ord(char):02x}"
    return char.encode("ascii", "backslashreplace").decode("ascii")


def _starts_like_command(text: str) -> bool:
    """Whether text, after whitespace and invisible characters, starts with a CI command prefix."""
    start = 0
    while start < len(text) and _skippable(text[start]):
        start += 1
    head = text[start : start + _LONGEST_PREFIX].lower()
    return head.startswith(_COMMAND_PREFIXES)


def _skippable(char: str) -> bool:
    return char.isspace() or not char.isprintable() or _PRINTABLE_IGNORABLE.match(char) is not None
