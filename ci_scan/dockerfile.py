"""The Dockerfile an image was built from, read so that reports can point at it (`--dockerfile`).

Only what the reports need is read: where the file is (as a repository-relative URI), and which lines
hold the `FROM` instruction the image's base packages came from. That is the last stage's `FROM`,
followed back through stages it names (`FROM build` after `FROM debian:12 AS build` is the
`debian:12` line); none when the last stage starts `FROM scratch`. The parser follows Docker's rules
for what matters here: instructions are case-insensitive, a line ending in the escape character (`\\`,
or the one a `# escape=` directive names) continues on the next, comment lines inside a continued
instruction are skipped, and heredoc bodies (`RUN <<EOF` ... `EOF`) are not instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ci_scan.errors import ConfigError

DEFAULT_NAME = "Dockerfile"
MAX_BYTES = 1_000_000
"""A Dockerfile is a few kilobytes; anything this big is not one."""

_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S*)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z0-9_]+)\2")
_FROM_FLAG = re.compile(r"--[A-Za-z-]+(=\S*)?$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    """Upper case: `FROM`, `RUN`..."""
    arguments: str
    start_line: int
    end_line: int
    end_column: int
    """The column just after the instruction's last character on its last line (SARIF's endColumn)."""


@dataclass(frozen=True)
class Dockerfile:
    uri: str
    """Relative to the working directory (the checkout) when inside it, else a `file://` URI."""
    line_count: int
    base: Instruction | None
    """The `FROM` the image's base packages came from; None for `FROM scratch`."""


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, with the lines each spans."""
    lines = text.splitlines()
    escape = _escape_character(lines)
    found: list[Instruction] = []
    number = 0
    while number < len(lines):
        first = number
        line = lines[number].strip()
        number += 1
        if not line or line.startswith("#"):
            continue
        parts = [line]
        last, last_text = first, lines[first]
        continued = line.endswith(escape)
        while continued and number < len(lines):
            following = lines[number].strip()
            number += 1
            if not following or following.startswith("#"):
                continue  # empty and comment lines inside an instruction are skipped, as Docker does
            parts.append(following)
            last, last_text = number - 1, lines[number - 1]
            continued = following.endswith(escape)
        parts = [part[: -len(escape)] if part.endswith(escape) else part for part in parts]
        joined = " ".join(part.strip() for part in parts if part.strip())
        keyword, _, arguments = joined.partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip(), first + 1, last + 1, len(last_text.rstrip()) + 1))
        for heredoc in _HEREDOC.finditer(arguments):  # skip each body to its closing word
            strip_tabs, word = heredoc.group(1) == "-", heredoc.group(3)
            while number < len(lines):
                body = lines[number].lstrip("\t") if strip_tabs else lines[number]
                number += 1
                if body.rstrip() == word:
                    break
    return found


def base_instruction(found: list[Instruction]) -> Instruction | None:
    """The last stage's `FROM`, followed back through the stages it names; None for scratch."""
    stages: dict[str, Instruction] = {}
    current: Instruction | None = None
    for instruction in found:
        if instruction.keyword != "FROM":
            continue
        image, name = _from_parts(instruction.arguments)
        resolved = stages.get(image.lower(), instruction)
        current = resolved
        if name:
            stages[name.lower()] = resolved
    if current is None or _from_parts(current.arguments)[0].lower() == "scratch":
        return None
    return current


def parse(text: str, uri: str) -> Dockerfile:
    """`text` read as a Dockerfile at `uri`; ConfigError when it has no `FROM`."""
    found = instructions(text)
    if not any(i.keyword == "FROM" for i in found):
        raise ConfigError(f"--dockerfile {uri} has no FROM instruction: is it a Dockerfile?")
    return Dockerfile(uri=uri, line_count=max(1, len(text.splitlines())), base=base_instruction(found))


def load(path: str | None, *, image_count: int, working_directory: Path | None = None) -> Dockerfile | None:
    """The Dockerfile to point reports at: `path` if given (ConfigError if it cannot be used), else
    `Dockerfile` in the working directory when it is a readable Dockerfile and one image is scanned."""
    cwd = working_directory or Path.cwd()
    if path is None:
        default = cwd / DEFAULT_NAME
        if image_count != 1 or not default.is_file():
            return None
        try:
            return _read(default, cwd)
        except ConfigError:
            return None  # not asked for: a file that is no Dockerfile is simply not used
    if image_count != 1:
        raise ConfigError(f"--dockerfile points at one image's Dockerfile, but {image_count} images are "
                          "scanned: scan one image, or leave --dockerfile out")
    return _read(cwd / path, cwd)


def _read(path: Path, cwd: Path) -> Dockerfile:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read --dockerfile {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"--dockerfile {path} is over {MAX_BYTES // 1_000_000} MB: is it a Dockerfile?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"--dockerfile {path} is not UTF-8 text: is it a Dockerfile?") from None
    return parse(text, _uri(path, cwd))


def _uri(path: Path, cwd: Path) -> str:
    """Relative to the checkout, as code scanning needs (symlinks resolved, as it also needs)."""
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(cwd.resolve())
    except ValueError:
        return resolved.as_uri()
    return quote(relative.as_posix(), safe="/-._~")


def _escape_character(lines: list[str]) -> str:
    """The escape character: `\\`, or the one an `# escape=` parser directive at the top names."""
    for line in lines:
        directive = _DIRECTIVE.match(line.strip())
        if directive is None:
            break  # directives come first; anything else ends them
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            return directive.group(2)
    return "\\"


def _from_parts(arguments: str) -> tuple[str, str]:
    """(image, stage name) of a `FROM [--platform=...] image [AS name]`."""
    words = [word for word in arguments.split() if not _FROM_FLAG.match(word)]
    image = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
    return image, name
