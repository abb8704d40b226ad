"""The ignore file: findings a team has accepted, each with a reason and, if it likes, an expiry.

    ignore:
      - id: CVE-2024-0001          # required: the CVE or other rule id
        reason: not reachable: the parser is never fed user input   # required
        package: openssl           # optional: the package name, without its version
        version: 3.0.2             # optional: the installed version
        image: registry.example.com/team/*   # optional: the repository, a glob
        expires: 2027-03-31        # optional: from this day on the entry suppresses nothing

Every problem is a ConfigError naming the file, the line and the key (exit 2, before any scan).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ci_scan.errors import ConfigError
from ci_scan.models import Finding, Target
from ci_scan.user_files import read_user_file, yaml_error, yaml_line

DEFAULT_IGNORE_FILE = ".ci-scan-ignore.yml"
DEFAULT_IGNORE_FILES = (DEFAULT_IGNORE_FILE, ".ci-scan-ignore.yaml")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EXPIRY_WARNING_DAYS = 14
_KEYS = {"id", "reason", "package", "version", "image", "expires"}


@dataclass(frozen=True)
class IgnoreEntry:
    id: str
    reason: str
    package: str = ""
    version: str = ""
    image: str = ""
    expires: dt.date | None = None
    where: str = ""
    """`file line N`, for the reports."""

    def matches(self, finding: Finding, target: Target) -> bool:
        if finding.rule_id != self.id:
            return False
        if self.package and finding.package_name != self.package:
            return False
        if self.version and finding.package_version != self.version:
            return False
        return not self.image or image_matches(self.image, target)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires <= today

    def describe(self) -> str:
        scope = "".join(f" {key} {value}" for key, value in (("package", self.package), ("version", self.version),
                                                              ("image", self.image)) if value)
        return f"{self.id}{scope} ({self.where})"


def image_matches(pattern: str, target: Target) -> bool:
    """Whether the glob `pattern` names the target's image: its repository with or without the
    registry host (`registry.example.com/prod/*` or `prod/*`), or the name it was given by."""
    path = target.image.repository if target.image else ""
    return any(fnmatchcase(name, pattern) for name in (target.repository, path, target.name) if name)


def load_ignore_file(path: str) -> tuple[IgnoreEntry, ...]:
    """The entries of the YAML ignore file at `path`, validated."""
    import yaml  # only runs that have an ignore file pay for the YAML parser

    text = read_user_file(path, "the ignore file")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    if root is None:
        return ()
    keys = [k for k, _ in root.value] if isinstance(root, yaml.MappingNode) else []
    if len(keys) != 1 or not isinstance(keys[0], yaml.ScalarNode) or keys[0].value != "ignore":
        raise ConfigError(f"{path} line {yaml_line(root)}: the file must hold one key, 'ignore:', with a list of "
                          "entries")
    entries = root.value[0][1]
    if not isinstance(entries, yaml.SequenceNode):
        raise ConfigError(f"{path} line {yaml_line(entries)}: 'ignore' must be a list of entries")
    return tuple(entry_from_node(path, node) for node in entries.value)


def entry_from_node(path: str, node: Any) -> IgnoreEntry:
    import yaml

    where = f"{path} line {yaml_line(node)}"
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{where}: an entry must be a mapping with at least 'id' and 'reason'")
    values: dict[str, str] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(f"{path} line {yaml_line(key_node)}: a key must be a plain word such as 'id'")
        key = str(key_node.value)
        if key in values:
            raise ConfigError(f"{path} line {yaml_line(key_node)}: {key!r} is given twice in one entry")
        if key not in _KEYS:
            raise ConfigError(f"{path} line {yaml_line(key_node)}: unknown key {key!r} "
                              f"(an entry takes {', '.join(sorted(_KEYS))})")
        if not isinstance(value_node, yaml.ScalarNode) or not str(value_node.value).strip():
            raise ConfigError(f"{path} line {yaml_line(value_node)}: {key!r} must be a non-empty text")
        values[key] = str(value_node.value).strip()
    for required in ("id", "reason"):
        if required not in values:
            raise ConfigError(f"{where}: the entry has no {required!r}; every ignore needs an id and a reason")
    expires = None
    if "expires" in values:
        try:
            if not _ISO_DATE.fullmatch(values["expires"]):
                raise ValueError(values["expires"])
            expires = dt.date.fromisoformat(values["expires"])
        except ValueError:
            raise ConfigError(f"{where}: 'expires' must be a date such as 2027-03-31, "
                              f"not {values['expires']!r}") from None
    return IgnoreEntry(id=values["id"], reason=values["reason"], package=values.get("package", ""),
                       version=values.get("version", ""), image=values.get("image", ""), expires=expires,
                       where=f"{Path(path).name} line {yaml_line(node)}")


def default_ignore_file() -> str | None:
    """`.ci-scan-ignore.yml` in the working directory, when there is one."""
    return next((name for name in DEFAULT_IGNORE_FILES if Path(name).is_file()), None)
