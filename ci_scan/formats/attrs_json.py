"""sarif-om's attrs objects as plain JSON data, under their SARIF property names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

KEEP_WHEN_DEFAULT = frozenset({"level"})
"""Properties written even when they equal the schema default: a reader should not need the spec."""

_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, dict[str, tuple[str, Any]]] = {}


def to_json_data(value: object) -> Any:
    """`value` with attrs objects turned into dicts; unset (None) and default-valued properties dropped.

    A property's JSON name comes from the field's `schema_property_name` metadata. Plain dicts
    (property bags) and lists pass through, converted recursively.
    """
    cls = type(value)
    if cls in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {key: item if type(item) in _SCALARS else to_json_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [item if type(item) in _SCALARS else to_json_data(item) for item in value]
    fields = _FIELDS[cls] if cls in _FIELDS else _fields(cls)
    if not fields:
        return value
    data = {}
    for attribute, (json_name, default) in fields.items():
        item = getattr(value, attribute)
        if item is None:
            continue
        if item == default and json_name not in KEEP_WHEN_DEFAULT:
            continue
        data[json_name] = item if type(item) in _SCALARS else to_json_data(item)
    return data


def _fields(cls: type) -> dict[str, tuple[str, Any]]:
    """attribute -> (JSON name, default) for an attrs class, in field order; {} for any other class."""
    fields = {}
    if attrs.has(cls):
        for field in attrs.fields(cls):
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            fields[field.name] = (field.metadata.get("schema_property_name", field.name), default)
    _FIELDS[cls] = fields
    return fields
