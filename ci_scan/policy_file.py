"""The policy file (`.ci-scan.yml` by default when present; `--policy PATH`): the gate as the team defines it.

Keys are the options without their dashes (`fail-on: high`, `max-critical: 0`), plus an inline
`ignore:` list, `vex:`, the baseline options and `scopes:`. The file is validated against the JSON
Schema shipped in the package before anything is scanned: an unknown key, a wrong type or a bad value
is a ConfigError naming the file, the line and the key (exit 2), so a typo never weakens the gate.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ci_scan.errors import ConfigError
from ci_scan.ignores import IgnoreEntry, entry_from_node
from ci_scan.user_files import read_user_file, yaml_error, yaml_line

DEFAULT_POLICY_FILES = (".ci-scan.yml", ".ci-scan.yaml")
PATHS = ("ignore_file", "vex", "baseline_report")
"""Fields holding paths, read relative to the policy file's folder."""


@dataclass(frozen=True)
class FileScope:
    images: tuple[str, ...]
    values: dict[str, object]
    lines: dict[str, int]
    line: int


@dataclass(frozen=True)
class PolicyFile:
    path: str
    values: dict[str, object] = field(default_factory=dict)
    """By settings field (`max_critical`), paths resolved against the file's folder."""
    lines: dict[str, int] = field(default_factory=dict)
    scopes: tuple[FileScope, ...] = ()
    ignores: tuple[IgnoreEntry, ...] = ()

    def where(self, key: str, scope: FileScope | None = None) -> str:
        """`.ci-scan.yml line 4`: where a value was set, for the reports."""
        line = (scope.lines if scope else self.lines).get(key)
        return f"{Path(self.path).name} line {line}" if line else Path(self.path).name


def default_policy_file() -> str | None:
    return next((name for name in DEFAULT_POLICY_FILES if Path(name).is_file()), None)


def schema() -> dict[str, Any]:
    text = resources.files("ci_scan").joinpath("schemas/policy.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load_policy_file(path: str) -> PolicyFile:
    import jsonschema  # only runs with a policy file pay for the validator and the YAML parser
    import yaml

    text = read_user_file(path, "the policy file")
    loader = _loader_class(yaml)(text)
    try:
        root = loader.get_single_node()
        data: Any = loader.construct_document(root) if root is not None else None
    except (yaml.YAMLError, ValueError) as exc:
        raise yaml_error(path, exc) from None
    finally:
        loader.dispose()
    if root is None or data is None:  # nothing, or only `---` and comments: no policy
        return PolicyFile(path)
    _refuse_duplicates(path, root, yaml)
    _lower_fail_on(data)
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    # The first problem in the file, as a reader meets it.
    errors = sorted(validator.iter_errors(data), key=lambda e: (_error_line(root, e, yaml), len(e.absolute_path)))
    if errors:
        raise ConfigError(_explain(path, root, errors[0], yaml))
    folder = Path(path).parent
    values, lines = _fields(path, data, root, yaml, folder, top=True)
    scopes = []
    for index, entry in enumerate(data.get("scopes", [])):
        node = _node_at(root, ["scopes", index], yaml)
        patterns = entry["images"]
        scope_values, scope_lines = _fields(path, entry, node, yaml, folder, top=False)
        scopes.append(FileScope(tuple([patterns] if isinstance(patterns, str) else patterns), scope_values,
                                scope_lines, yaml_line(node)))
    ignores: tuple[IgnoreEntry, ...] = ()
    if "ignore" in data:
        ignores = tuple(entry_from_node(path, node) for node in _node_at(root, ["ignore"], yaml).value)
    return PolicyFile(path, values, lines, tuple(scopes), ignores)


def _fields(path: str, data: dict[str, Any], node: Any, yaml: Any, folder: Path, *,
            top: bool) -> tuple[dict[str, object], dict[str, int]]:
    values: dict[str, object] = {}
    lines: dict[str, int] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if key in ("version", "scopes", "ignore", "images"):
            continue
        if isinstance(value, float) and value != value:  # .nan passes every bound of the schema
            raise ConfigError(f"{path} line {yaml_line(_key_node(node, key, yaml))}: {key}: .nan is not a number")
        if top and name in PATHS:
            value = [str(folder / v) for v in value] if isinstance(value, list) else str(folder / value)
            if name == "vex" and isinstance(value, str):
                value = [value]
        values[name] = value
        lines[name] = yaml_line(_key_node(node, key, yaml))  # the key's line: a block list's value starts below it
    return values, lines


def _lower_fail_on(data: Any) -> None:
    """`fail-on: HIGH` reads as `high`, as the option does."""
    mappings = [data, *(data.get("scopes") or [] if isinstance(data, dict) else [])]
    for mapping in mappings:
        if isinstance(mapping, dict) and isinstance(mapping.get("fail-on"), str):
            mapping["fail-on"] = mapping["fail-on"].strip().lower()


def _loader_class(yaml: Any) -> Any:
    """A safe loader that keeps dates as text: the schema, not YAML, decides what a date is."""
    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def _node_at(root: Any, path: Sequence[str | int], yaml: Any) -> Any:
    """The YAML node at a JSON path; the deepest one found when the path leaves the tree."""
    node = root
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)]
            if not found:
                return node
            node = found[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return node
    return node


def _key_node(mapping: Any, key: str, yaml: Any) -> Any:
    return next((k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), mapping)


def _refuse_duplicates(path: str, node: Any, yaml: Any) -> None:
    """YAML keeps the last of two equal keys; a policy must not silently lose the first."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise ConfigError(f"{path} line {yaml_line(key)}: {key.value!r} is given twice")
                seen.add(key.value)
            _refuse_duplicates(path, value, yaml)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicates(path, item, yaml)


def _explain(path: str, root: Any, error: Any, yaml: Any) -> str:
    """One line: the file, the line, the key and what is wrong with it."""
    where = list(error.absolute_path)
    node = _node_at(root, where, yaml)
    dotted = ".".join(str(step) if isinstance(step, str) else f"[{step}]" for step in where).replace(".[", "[")
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        key = _unknown_key(node, error, yaml)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(allowed))})"
        inside = f" in {dotted}" if dotted else ""
        return f"{path} line {_error_line(root, error, yaml)}: unknown key {key!r}{inside}{hint}"
    if error.instance is None:
        return f"{path} line {yaml_line(node)}: {dotted or 'the file'} has no value"
    if not where:
        return f"{path} line {yaml_line(node)}: the policy file must be a mapping of options, e.g. 'fail-on: high'"
    if error.validator in ("enum", "type") and isinstance(error.instance, bool) and dotted.endswith("fail-on"):
        return (f"{path} line {yaml_line(node)}: {dotted}: YAML reads {node.value!r} as {str(error.instance).lower()}; "
                "write one of the values, e.g. 'none' to switch the threshold off")
    return f"{path} line {yaml_line(node)}: {dotted}: {_problem(error)}"


def _unknown_key(mapping: Any, error: Any, yaml: Any) -> str:
    """The first key, in the file's order, that the schema does not know."""
    allowed = set(error.schema.get("properties", {}))
    keys = [str(k.value) for k, _ in getattr(mapping, "value", []) if isinstance(k, yaml.ScalarNode)]
    return next((key for key in keys if key not in allowed), "?")


def _error_line(root: Any, error: Any, yaml: Any) -> int:
    """Where a problem is: an unknown key's own line, else the value's."""
    node = _node_at(root, list(error.absolute_path), yaml)
    if error.validator == "additionalProperties":
        return yaml_line(_key_node(node, _unknown_key(node, error, yaml), yaml))
    return yaml_line(node)


def _problem(error: Any) -> str:
    if error.absolute_path and error.absolute_path[-1] == "expires" and error.validator in ("format", "type"):
        return f"{error.instance!r} is not a date such as 2027-03-31"
    if error.validator == "oneOf":
        what = "an image pattern" if str(error.absolute_path[-1]) == "images" else "a path"
        return f"{error.instance!r} must be {what} or a non-empty list of them"
    if error.validator in ("minLength", "pattern"):
        return "must not be empty"
    return str(error.message)
