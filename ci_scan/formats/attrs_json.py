"""sarif-om's attrs objects as plain JSON data, under their SARIF property names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import attrs

KEEP_WHEN_DEFAULT = frozenset({"level"})
"""Properties written even when they equal the schema default: a reader should not need the spec."""

_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclass(frozen=True)
class _Shape:
    """What converting one attrs class needs: each attribute's JSON name, and the defaults to drop."""

    names: dict[str, str]
    defaults: dict[str, Any]
    """attribute -> its default, for the attributes whose default is not None and is dropped."""


_SHAPES: dict[type, _Shape | None] = {}


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
    shape = _SHAPES[cls] if cls in _SHAPES else _shape(cls)
    if shape is None:
        return value
    names, defaults = shape.names, shape.defaults
    # Most of a sarif-om object's 10-30 attributes are None: skip them first, in one pass over its
    # __dict__ (attrs classes without slots keep their attributes there, in field order).
    return {
        names[attribute]: item if type(item) in _SCALARS else to_json_data(item)
        for attribute, item in vars(value).items()
        if item is not None and (attribute not in defaults or item != defaults[attribute])
    }


def _shape(cls: type) -> _Shape | None:
    """The shape of an attrs class (whose instances keep a __dict__); None for any other class."""
    shape = None
    if attrs.has(cls) and "__slots__" not in cls.__dict__:
        names, defaults = {}, {}
        for field in attrs.fields(cls):
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            json_name = field.metadata.get("schema_property_name", field.name)
            names[field.name] = json_name
            if default is not None and json_name not in KEEP_WHEN_DEFAULT:
                defaults[field.name] = default
        shape = _Shape(names, defaults)
    _SHAPES[cls] = shape
    return shape
