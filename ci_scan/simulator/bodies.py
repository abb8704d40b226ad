"""Request bodies: JSON decoding and the console's validation, shape by shape.

Wrong JSON types fail like Go's decoder (400, the message says what could not be unmarshalled).
Missing required fields and broken rules fail like the validator (400, `message: ""`, details in
`error_fields`, array positions in `error_index`). Secret and malware starts, searches and the topology
delta are only decoded: the console runs no validator on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .responses import ApiError, error_response

NODE_TYPES = ("image", "host", "container", "cloud_account", "cluster", "registry", "pod", "container_image")
LANGUAGES = (
    "base", "ruby", "python", "javascript", "php", "golang", "golang-binary", "java", "rust", "rust-binary",
    "dotnet",
)  # fmt: skip
SCAN_TYPES = ("SecretScan", "VulnerabilityScan", "MalwareScan", "ComplianceScan", "CloudComplianceScan")
MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class Shape:
    """What one JSON value must look like."""

    kind: str  # string, integer, boolean, any, array, object, or map (string -> array)
    required: bool = True
    nullable: bool = False
    non_empty: bool = False
    choices: tuple[str, ...] = ()
    go_type: str = ""
    fields: Mapping[str, Shape] = field(default_factory=dict)
    items: Shape | None = None


def _obj(go_type: str, **fields: Shape) -> Shape:
    return Shape("object", go_type=go_type, fields=fields)


def _optional(shape: Shape) -> Shape:
    return replace(shape, required=False)


def _decoded_only(shape: Shape) -> Shape:
    """What Go's decoder alone checks: the JSON types. Nothing is required and null is fine anywhere."""
    return replace(
        shape,
        required=False,
        nullable=True,
        non_empty=False,
        choices=(),
        fields={name: _decoded_only(inner) for name, inner in shape.fields.items()},
        items=_decoded_only(shape.items) if shape.items else None,
    )


STRING = Shape("string")
_CONTAINS = _obj("reporters.ContainsFilter", filter_in=Shape("map", nullable=True))
_MATCH = _obj("reporters.MatchFilter", filter_in=Shape("map", nullable=True))
_ORDER_SPEC = _obj(
    "reporters.OrderSpec",
    field_name=STRING,
    descending=Shape("boolean"),
    size=Shape("integer", required=False),
)
_COMPARE = _obj("reporters.CompareFilter", field_name=STRING, field_value=Shape("any"), greater_than=Shape("boolean"))
FIELDS_FILTERS = _obj(
    "reporters.FieldsFilters",
    contains_filter=_CONTAINS,
    match_filter=_MATCH,
    order_filter=_obj("reporters.OrderFilter", order_fields=Shape("array", nullable=True, items=_ORDER_SPEC)),
    compare_filter=Shape("array", nullable=True, items=_COMPARE),
    not_contains_filter=_optional(_CONTAINS),
    contains_in_array_filter=_optional(_CONTAINS),
    match_in_array_filter=_optional(_MATCH),
)
WINDOW = _obj("model.FetchWindow", offset=Shape("integer"), size=Shape("integer"))
_NODE = _obj(
    "model.NodeIdentifier",
    node_id=Shape("string", non_empty=True),
    node_type=Shape("string", choices=NODE_TYPES),
)

AUTH_REQUEST = _obj("model.ApiAuthRequest", api_token=STRING)
IMAGES_REQUEST = _obj(
    "model.RegistryImagesReq",
    registry_id=Shape("string", non_empty=True),
    image_filter=FIELDS_FILTERS,
    image_stub_filter=FIELDS_FILTERS,
    window=WINDOW,
)
_SCAN_FILTER = _obj(
    "model.ScanFilter",
    image_scan_filter=_CONTAINS,
    container_scan_filter=_CONTAINS,
    host_scan_filter=_CONTAINS,
    cloud_account_scan_filter=_CONTAINS,
    kubernetes_cluster_scan_filter=_CONTAINS,
)
START_REQUEST = _obj(
    "model.VulnerabilityScanTriggerReq",
    node_ids=Shape("array", nullable=True, non_empty=True, items=_NODE),
    filters=_SCAN_FILTER,
    scan_config=Shape(
        "array",
        nullable=True,
        non_empty=True,
        items=_obj("model.VulnerabilityScanConfigLanguage", language=Shape("string", choices=LANGUAGES)),
    ),
    is_priority=Shape("boolean", required=False),
    deepfence_system_scan=Shape("boolean", required=False),
)

def _file_scan_start(go_type: str) -> Shape:
    return _decoded_only(
        _obj(
            go_type,
            node_ids=Shape("array", items=_NODE),
            filters=_SCAN_FILTER,
            is_priority=Shape("boolean"),
            deepfence_system_scan=Shape("boolean"),
        )
    )


SECRET_START_REQUEST = _file_scan_start("model.SecretScanTriggerReq")
MALWARE_START_REQUEST = _file_scan_start("model.MalwareScanTriggerReq")
STATUS_REQUEST = _obj("model.ScanStatusReq", scan_ids=Shape("array", nullable=True, items=STRING), bulk_scan_id=STRING)
RESULTS_REQUEST = _obj(
    "model.ScanResultsReq",
    scan_id=Shape("string", non_empty=True),
    fields_filter=FIELDS_FILTERS,
    window=WINDOW,
)
STOP_REQUEST = _obj(
    "model.StopScanRequest",
    scan_ids=Shape("array", nullable=True, items=STRING),
    scan_type=Shape("string", choices=SCAN_TYPES),
)
SBOM_REQUEST = _obj("model.SbomRequest", scan_id=Shape("string", non_empty=True))
LIST_REQUEST = _obj(
    "model.ScanListReq",
    node_ids=Shape("array", nullable=True, items=_NODE),
    fields_filter=FIELDS_FILTERS,
    window=WINDOW,
)

_SEARCH_FILTER = _obj(
    "reporters_search.SearchFilter",
    in_field_filter=Shape("array", items=STRING),
    filters=FIELDS_FILTERS,
    window=WINDOW,
)
SEARCH_REQUEST = _decoded_only(
    _obj(
        "reporters_search.SearchNodeReq",
        node_filter=_SEARCH_FILTER,
        extended_node_filter=_SEARCH_FILTER,
        related_node_filter=_obj(
            "reporters_search.ChainedSearchFilter",
            node_filter=_SEARCH_FILTER,
            relation_ship=STRING,
            next_filter=Shape("any"),
        ),
        window=WINDOW,
    )
)
_TIMESTAMP = Shape("integer", go_type="int64")
DELTA_REQUEST = _decoded_only(
    _obj(
        "model.TopologyDeltaReq",
        addition=Shape("boolean"),
        addition_timestamp=_TIMESTAMP,
        deletion=Shape("boolean"),
        deletion_timestamp=_TIMESTAMP,
        entity_types=Shape("array", items=STRING),
    )
)

_PYTHON_KIND = {"string": str, "boolean": bool, "array": list, "object": dict, "map": dict}


def _json_kind(value: Any) -> str:
    """How Go's decoder names a JSON value in its errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _go_field(name: str) -> str:
    """`node_ids` -> `NodeIDs`, the way the validator names struct fields."""
    special = {"id": "ID", "ids": "IDs"}
    return "".join(special.get(part, part.capitalize()) for part in name.split("_"))


def _go_type(shape: Shape) -> str:
    if shape.kind == "array":
        return "[]" + (_go_type(shape.items) if shape.items else "interface {}")
    basic = {"string": "string", "integer": "int", "boolean": "bool", "map": "map[string][]interface {}"}
    return shape.go_type or basic.get(shape.kind, "interface {}")


@dataclass
class _Checker:
    struct: str
    problems: dict[str, str] = field(default_factory=dict)
    positions: dict[str, list[int]] = field(default_factory=dict)

    def fail(self, name: str, position: int | None) -> None:
        self.problems[name] = f"Field validation for '{_go_field(name)}' failed"
        if position is not None:
            self.positions.setdefault(name, []).append(position)

    def type_error(self, value: Any, name: str, shape: Shape) -> ApiError:
        where = f"Go struct field {self.struct}.{name}" if name else f"Go value of type {self.struct}"
        message = f"json: cannot unmarshal {_json_kind(value)} into {where} of type {_go_type(shape)}"
        return ApiError(error_response(400, message))

    def check(self, value: Any, shape: Shape, name: str, position: int | None) -> None:
        if value is None:
            if shape.kind != "any" and (not shape.nullable or shape.non_empty):
                self.fail(name, position)
            return
        if not self._has_kind(value, shape):
            raise self.type_error(value, name, shape)
        if (shape.choices and value not in shape.choices) or (shape.non_empty and not value):
            self.fail(name, position)
        if shape.kind == "object":
            self._check_object(value, shape, position)
        elif shape.kind == "array" and shape.items is not None:
            for index, item in enumerate(value):
                self.check(item, shape.items, name, index)
        elif shape.kind == "map":
            for key, values in value.items():
                if not isinstance(values, list):
                    raise self.type_error(values, f"{name}.{key}", Shape("array"))

    def _check_object(self, value: dict[str, Any], shape: Shape, position: int | None) -> None:
        for field_name, field_shape in shape.fields.items():
            if field_name in value:
                self.check(value[field_name], field_shape, field_name, position)
            elif field_shape.required:
                self.fail(field_name, position)

    @staticmethod
    def _has_kind(value: Any, shape: Shape) -> bool:
        if shape.kind == "any":
            return True
        if shape.kind == "integer":
            return type(value) is int
        expected = _PYTHON_KIND[shape.kind]
        return isinstance(value, expected) and (expected is bool or not isinstance(value, bool))


def parse_body(raw: bytes, shape: Shape) -> dict[str, Any]:
    """The decoded body, or ApiError with the 400 the console would send."""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(error_response(400, "http: request body too large"))
    if not raw.strip():
        raise ApiError(error_response(400, "EOF"))
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(error_response(400, f"invalid character in request body: {exc}")) from exc
    checker = _Checker(shape.go_type)
    if not isinstance(value, dict):
        raise checker.type_error(value, "", shape)
    checker.check(value, shape, "", None)
    if checker.problems:
        raise ApiError(error_response(400, "", checker.problems, checker.positions or None))
    return value
