"""Reading OpenVEX 0.2.0 documents for `--vex PATH` into `vex.VexStatement`s.

Every file must be an OpenVEX 0.2.0 JSON document that the spec's JSON Schema accepts, checked here in plain
code: the required fields, no field the schema does not name, the types, the four statuses, the five justifications,
`not_affected` with a justification or an impact statement, `affected` with an action statement, no repeated entry in
a list, at least one statement. On top of the schema (which does not enforce formats) the timestamps must be RFC 3339
date-times with a time zone, `@context` must be the OpenVEX one, and no object may give a key twice. Every problem is
a ConfigError (exit 2) naming the file, the line where it can be found and the path, such as `statements[2].status`
(indexes count from 0; reports count statements from 1, as `vex.json statement 3`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from pathlib import Path

from ci_scan.errors import ConfigError
from ci_scan.user_files import read_user_file
from ci_scan.vex import CONTEXT, JUSTIFICATIONS, STATUSES, Product, VexStatement

# The fields the OpenVEX 0.2.0 JSON Schema allows, and those it requires, per object.
_DOCUMENT_KEYS = frozenset({"@context", "@id", "author", "role", "timestamp", "last_updated", "version", "tooling",
                            "statements"})
_DOCUMENT_REQUIRED = ("@context", "@id", "author", "timestamp", "version", "statements")
_STATEMENT_KEYS = frozenset({"@id", "version", "vulnerability", "timestamp", "last_updated", "products", "status",
                             "supplier", "status_notes", "justification", "impact_statement", "action_statement",
                             "action_statement_timestamp"})
_STATEMENT_REQUIRED = ("vulnerability", "status")
_VULNERABILITY_KEYS = frozenset({"@id", "name", "description", "aliases"})
_SUBCOMPONENT_KEYS = frozenset({"@id", "identifiers", "hashes"})
_PRODUCT_KEYS = _SUBCOMPONENT_KEYS | {"subcomponents"}
_IDENTIFIER_KEYS = ("purl", "cpe22", "cpe23")
_HASH_KEYS = frozenset({"md5", "sha1", "sha-256", "sha-384", "sha-512", "sha3-224", "sha3-256", "sha3-384",
                        "sha3-512", "blake2s-256", "blake2b-256", "blake2b-512"})

_DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                        r"(?:([Zz])|([+-])(\d{2}):(\d{2}))", re.ASCII)
"""RFC 3339 date-time: a time zone is required, fractions of any length (Go writes nanoseconds)."""

_JsonPath = tuple[str | int, ...]


def load_vex(paths: Sequence[str]) -> tuple[VexStatement, ...]:
    """The statements of every OpenVEX file in `paths`, in order, each file validated."""
    return tuple(statement for path in paths for statement in _load(path))


class _Invalid(Exception):
    """A structural problem at `path` of the document; `problem` follows the path's name in the message."""

    def __init__(self, path: _JsonPath, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem


class _NotJson(Exception):
    """What json.loads lets through: a key given twice in one object, NaN or Infinity."""


def _load(path: str) -> tuple[VexStatement, ...]:
    text = read_user_file(path, "the VEX file")
    document = _parse(path, text)
    try:
        return _document(document, Path(path).name)
    except _Invalid as invalid:
        offset = _offset(text, invalid.path)
        line = f" line {text.count(chr(10), 0, offset) + 1}" if offset is not None else ""
        raise ConfigError(f"{path}{line}: {_name(invalid.path)} {invalid.problem}") from None


def _parse(path: str, text: str) -> object:
    if not text.strip():
        raise ConfigError(f"{path}: the file is empty; --vex takes an OpenVEX JSON document")
    try:
        return json.loads(text, object_pairs_hook=_no_repeated_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})") from None
    except _NotJson as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: the JSON is nested too deeply to be an OpenVEX document") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ConfigError(f"{path}: cannot be read ({exc})") from None


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _NotJson(f"the key {key!r} is given twice in one object; give each key once")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise _NotJson(f"{name} is not valid JSON; write a number or a string")


def _document(value: object, file_name: str) -> tuple[VexStatement, ...]:
    document = _object(value, (), _DOCUMENT_KEYS, _DOCUMENT_REQUIRED, "an OpenVEX document")
    context = _text(document, "@context", ())
    if not context.startswith(CONTEXT):
        raise _Invalid(("@context",), f"must be the OpenVEX context, such as {CONTEXT}/v0.2.0, not {context!r}")
    for key in ("@id", "author", "role", "tooling"):
        _text(document, key, ())
    timestamp = _timestamp(document, "timestamp", ())
    _timestamp(document, "last_updated", ())
    _version(document, ())
    statements = _list(document, "statements", ())
    if not statements:
        raise _Invalid(("statements",), "is empty; an OpenVEX document needs at least one statement "
                                        "(add one, or drop this file from --vex)")
    return tuple(_statement(item, ("statements", index), timestamp, f"{file_name} statement {index + 1}")
                 for index, item in enumerate(statements))


def _statement(value: object, path: _JsonPath, document_time: dt.datetime | None, where: str) -> VexStatement:
    statement = _object(value, path, _STATEMENT_KEYS, _STATEMENT_REQUIRED, "a statement")
    name, aliases = _vulnerability(statement["vulnerability"], (*path, "vulnerability"))
    status = _text(statement, "status", path)
    if status not in STATUSES:
        raise _Invalid((*path, "status"), f"must be one of {', '.join(STATUSES)}, not {status!r}")
    justification = _text(statement, "justification", path)
    if "justification" in statement and justification not in JUSTIFICATIONS:
        raise _Invalid((*path, "justification"), f"must be one of {', '.join(JUSTIFICATIONS)}, "
                                                 f"not {justification!r}")
    if status == "not_affected" and "justification" not in statement and "impact_statement" not in statement:
        raise _Invalid(path, "is not_affected without a 'justification' or an 'impact_statement'; "
                             "OpenVEX needs one of them to say why")
    if status == "affected" and "action_statement" not in statement:
        raise _Invalid(path, "is affected without an 'action_statement'; OpenVEX needs one to say what to do")
    for key in ("@id", "supplier", "status_notes"):
        _text(statement, key, path)
    _version(statement, path)
    timestamp = _timestamp(statement, "timestamp", path)
    for key in ("last_updated", "action_statement_timestamp"):
        _timestamp(statement, key, path)
    products = tuple(_product(item, (*path, "products", index))
                     for index, item in enumerate(_list(statement, "products", path)))
    return VexStatement(
        vulnerability=name, aliases=aliases, products=products, status=status, justification=justification,
        impact_statement=_text(statement, "impact_statement", path),
        action_statement=_text(statement, "action_statement", path),
        timestamp=timestamp or document_time, where=where)


def _vulnerability(value: object, path: _JsonPath) -> tuple[str, tuple[str, ...]]:
    vulnerability = _object(value, path, _VULNERABILITY_KEYS, ("name",), "a vulnerability")
    name = _text(vulnerability, "name", path)
    _text(vulnerability, "description", path)
    aliases: list[str] = []
    for index, alias in enumerate(_list(vulnerability, "aliases", path)):
        if not isinstance(alias, str):
            raise _Invalid((*path, "aliases", index), f"must be a string, not {_kind(alias)}")
        aliases.append(alias)
    iri = _text(vulnerability, "@id", path)
    if iri and iri not in aliases:
        aliases.append(iri)
    return name, tuple(aliases)


def _product(value: object, path: _JsonPath) -> Product:
    product = _object(value, path, _PRODUCT_KEYS, (), "a product")
    identifiers = _component(product, path, "product")
    subcomponents: list[str] = []
    for index, item in enumerate(_list(product, "subcomponents", path)):
        sub_path = (*path, "subcomponents", index)
        subcomponents.extend(_component(_object(item, sub_path, _SUBCOMPONENT_KEYS, (), "a subcomponent"), sub_path,
                                        "subcomponent"))
    return Product(identifiers=identifiers, subcomponents=tuple(subcomponents))


def _component(component: dict[str, object], path: _JsonPath, what: str) -> tuple[str, ...]:
    """The `@id` and `identifiers` values of a product or subcomponent, its hashes checked."""
    if "@id" not in component and "identifiers" not in component:
        raise _Invalid(path, f"names no {what}; give it an '@id' or 'identifiers' (purl, cpe22, cpe23)")
    names = [_text(component, "@id", path)] if "@id" in component else []
    if "identifiers" in component:
        id_path = (*path, "identifiers")
        identifiers = _object(component["identifiers"], id_path, frozenset(_IDENTIFIER_KEYS), (), "identifiers")
        if not identifiers:
            raise _Invalid(id_path, "is empty; give a purl, cpe22 or cpe23")
        names.extend(_text(identifiers, key, id_path) for key in _IDENTIFIER_KEYS if key in identifiers)
    if "hashes" in component:
        hash_path = (*path, "hashes")
        hashes = _object(component["hashes"], hash_path, _HASH_KEYS, (), "hashes")
        for key in hashes:
            _text(hashes, key, hash_path)
    return tuple(names)


# Plain-code checks of the schema's rules. Each raises _Invalid with the path of what is wrong.


def _object(value: object, path: _JsonPath, allowed: frozenset[str], required: tuple[str, ...],
            what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"must be an object, not {_kind(value)}")
    for key in value:
        if key not in allowed:
            raise _Invalid((*path, key), f"is not a field of {what} in OpenVEX 0.2.0 "
                                         f"(it takes {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            raise _Invalid(path, f"has no {key!r}; {what} needs {_and(required)}")
    return value


def _text(parent: dict[str, object], key: str, path: _JsonPath) -> str:
    value = parent.get(key, "")
    if not isinstance(value, str):
        raise _Invalid((*path, key), f"must be a string, not {_kind(value)}")
    return value


def _version(parent: dict[str, object], path: _JsonPath) -> None:
    if "version" not in parent:
        return
    value = parent["version"]
    # JSON Schema's integer takes 2.0 and refuses true and false
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise _Invalid((*path, "version"), f"must be a whole number, not {_kind(value)}")
    if value < 1:
        raise _Invalid((*path, "version"), f"must be 1 or more, not {value}")


def _list(parent: dict[str, object], key: str, path: _JsonPath) -> list[object]:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise _Invalid((*path, key), f"must be a list, not {_kind(value)}")
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        first = seen.setdefault(json.dumps(_canonical(item), sort_keys=True), index)
        if first != index:
            raise _Invalid((*path, key, index), f"repeats {_name((*path, key, first))}; each entry may appear once")
    return value


def _canonical(value: object) -> object:
    """`value` with 2.0 written as 2, as JSON Schema compares numbers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _timestamp(parent: dict[str, object], key: str, path: _JsonPath) -> dt.datetime | None:
    if key not in parent:
        return None
    text = _text(parent, key, path)
    match = _DATE_TIME.fullmatch(text)
    problem = f"must be a date and time with a time zone, such as 2024-05-01T12:00:00Z, not {text!r}"
    if match is None:
        raise _Invalid((*path, key), problem)
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, zulu, sign, zone_hours, zone_minutes = match.groups()[6:]
    offset = dt.timedelta(hours=int(zone_hours or 0), minutes=int(zone_minutes or 0))
    try:
        zone = dt.timezone.utc if zulu else dt.timezone(-offset if sign == "-" else offset)
        # RFC 3339 allows a leap second (:60); datetime does not, so it counts as :59
        return dt.datetime(year, month, day, hour, minute, min(second, 59),
                           int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
    except ValueError:
        raise _Invalid((*path, key), problem) from None


def _and(words: Sequence[str]) -> str:
    return f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else "".join(words)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _name(path: _JsonPath) -> str:
    """`statements[2].status`; `the document` for the top."""
    if not path:
        return "the document"
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


def _offset(text: str, path: _JsonPath) -> int | None:
    """Where the value at `path` starts in `text` (JSON that parsed), or None when it cannot be found."""
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    try:
        for step in path:
            opener, index = text[index], _skip_space(text, index + 1)
            if text[index] in "}]" or opener != ("{" if isinstance(step, str) else "["):
                return None
            position = 0
            while True:
                if opener == "{":
                    key, index = decoder.raw_decode(text, index)
                    index = _skip_space(text, _skip_space(text, index) + 1)  # past the ':'
                    if key == step:
                        break
                elif position == step:
                    break
                _, index = decoder.raw_decode(text, index)
                index = _skip_space(text, index)
                if text[index] != ",":
                    return None
                index, position = _skip_space(text, index + 1), position + 1
    except (IndexError, ValueError):
        return None
    return index


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index
