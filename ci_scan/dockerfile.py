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

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ci_scan.errors import ConfigError

DEFAULT_NAME = "Dockerfile"
_WORKSPACE_VARIABLES = ("GITHUB_WORKSPACE", "CI_PROJECT_DIR", "BUILD_SOURCESDIRECTORY", "WORKSPACE")
"""Where GitHub Actions, GitLab CI, Azure Pipelines and Jenkins check the repository out."""
MAX_BYTES = 1_000_000
"""A Dockerfile is a few kilobytes; anything this big is not one."""

_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_DIRECTIVE = re.compile(r"#\s*([A-Za-z]+)\s*=\s*(\S*)\s*$")
_HEREDOC = re.compile(r"\d*<<(-?)([^<]+)")
"""A heredoc word of RUN, COPY or ADD, as BuildKit reads one: `<<EOF`, `<<-EOT`, `<<"app.conf"`."""
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
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
    """Relative to the checkout's root (`checkout_root`), percent-encoded (SARIF's artifact URI)."""
    line_count: int
    base: Instruction | None
    """The `FROM` the image's base packages came from; None for `FROM scratch`."""
    path: str = ""
    """The same path as it is, for a CI's annotations; `uri` when parsed from text alone."""


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, with the lines each spans."""
    lines = _lines(text)
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
        keyword, *rest = joined.split(None, 1)
        arguments = rest[0].strip() if rest else ""
        found.append(Instruction(keyword.upper(), arguments, first + 1, last + 1, len(last_text.rstrip()) + 1))
        for strip_tabs, word in _heredocs(keyword.upper(), arguments):  # skip each body to its closing word
            while number < len(lines):
                body = lines[number].lstrip("\t") if strip_tabs else lines[number]
                number += 1
                if body.rstrip() == word:
                    break
    return found


def _lines(text: str) -> list[str]:
    """The lines as Docker counts them: split at line feeds only (not at form feeds or U+2028)."""
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")] if text else []


def _heredocs(keyword: str, arguments: str) -> list[tuple[bool, str]]:
    """(strip tabs, closing word) of each heredoc an instruction opens, in order."""
    if keyword not in _HEREDOC_INSTRUCTIONS:
        return []
    found = []
    for word in arguments.split():
        match = _HEREDOC.fullmatch(word)
        if match:
            name = match.group(2)
            if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
                name = name[1:-1]
            if name:
                found.append((match.group(1) == "-", name))
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


def parse(text: str, uri: str, path: str = "") -> Dockerfile:
    """`text` read as a Dockerfile at `uri` (`path`); ConfigError when it has no `FROM`."""
    found = instructions(text)
    if not any(i.keyword == "FROM" for i in found):
        raise ConfigError(f"--dockerfile {uri} has no FROM instruction: is it a Dockerfile?")
    return Dockerfile(uri=uri, line_count=max(1, len(_lines(text))), base=base_instruction(found), path=path or uri)


def load(path: str, *, image_count: int, working_directory: Path | None = None,
         environ: Mapping[str, str] | None = None) -> Dockerfile:
    """The Dockerfile named by `--dockerfile`; ConfigError when it cannot be used."""
    if image_count != 1:
        raise ConfigError(f"--dockerfile points at one image's Dockerfile, but {image_count} images are "
                          "scanned: scan one image, or leave --dockerfile out")
    cwd = working_directory or Path.cwd()
    return _read(cwd / path, checkout_root(cwd, os.environ if environ is None else environ))


def find_default(*, image_count: int, working_directory: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> Dockerfile | None:
    """`Dockerfile` in the working directory, when one image is scanned and it is a readable Dockerfile
    inside the checkout; None otherwise (it was not asked for, so nothing about it is an error)."""
    cwd = working_directory or Path.cwd()
    default = cwd / DEFAULT_NAME
    if image_count != 1 or not default.is_file():
        return None
    try:
        return _read(default, checkout_root(cwd, os.environ if environ is None else environ))
    except ConfigError:
        return None


def checkout_root(cwd: Path, environ: Mapping[str, str]) -> Path:
    """The repository's root, which code scanning resolves paths against: the CI's workspace variable,
    else the nearest directory up from `cwd` with a `.git`, else `cwd`."""
    for name in _WORKSPACE_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return Path(value)
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder
    return cwd


def _read(path: Path, root: Path) -> Dockerfile:
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
    uri, plain = _uri(path, root)
    return parse(text, uri, plain)


def _uri(path: Path, root: Path) -> tuple[str, str]:
    """Relative to the checkout's root, as code scanning needs (symlinks resolved, as it also needs):
    percent-encoded, and as it is."""
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(root.resolve())
    except ValueError:
        raise ConfigError(f"--dockerfile {path} is outside the checkout {root}: code scanning can only point "
                          "at files inside it") from None
    # A name that is not valid UTF-8 reaches Python as surrogate escapes: percent-encode its bytes.
    plain = relative.as_posix()
    return quote(os.fsencode(plain), safe="/-._~"), plain.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _escape_character(lines: list[str]) -> str:
    """The escape character: `\\`, or the one an `# escape=` parser directive at the top names."""
    for line in lines:
        directive = _DIRECTIVE.match(line.strip())
        if directive is None or directive.group(1).lower() not in _DIRECTIVES:
            break  # directives come first; anything else, an unknown one included, ends them
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            return directive.group(2)
    return "\\"


def _from_parts(arguments: str) -> tuple[str, str]:
    """(image, stage name) of a `FROM [--platform=...] image [AS name]`."""
    words = [word for word in arguments.split() if not _FROM_FLAG.match(word)]
    image = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
    return image, name
