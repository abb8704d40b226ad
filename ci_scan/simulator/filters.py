"""`ReportersFieldsFilters` and `ModelFetchWindow` semantics, as the console turns them into Cypher.

Every key of a filter is ANDed. `contains_filter` is `field IN values`, `not_contains_filter` is
`NOT coalesce(field, '') IN values`, the `*_in_array_filter`s test any element of an array property,
`match_filter` is a regex `.*value.*` full match, `compare_filter` is a strict `>`/`<`. Each order
field also requires `field IS NOT NULL`; severity fields sort by rank (critical > high > medium > low,
anything else below low).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from .responses import ApiError, error_response

Record = Mapping[str, Any]
SEVERITY_FIELDS = frozenset({"cve_severity", "file_severity", "level"})
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
NODE_LABELS = frozenset({"host", "image", "container_image", "container", "cluster", "aws", "gcp", "azure"})
IMAGE_LABELS = frozenset({"image", "container_image"})


def _same(a: Any, b: Any) -> bool:
    """Cypher equality: no bool/int confusion, ints and floats compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _any_same(value: Any, candidates: Iterable[Any]) -> bool:
    return any(_same(value, candidate) for candidate in candidates)


def _filter_in(filters: Mapping[str, Any], name: str) -> dict[str, list[Any]]:
    block = filters.get(name) or {}
    return block.get("filter_in") or {}


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _regex(values: Sequence[Any]) -> re.Pattern[str]:
    pattern = "(" + "|".join(f".*{_go_text(value)}.*" for value in values) + ")"
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ApiError(error_response(500, f"Invalid Regex: {exc}")) from exc


def _compares(value: Any, limit: Any, greater: bool) -> bool:
    numbers = (int, float)
    both_numbers = isinstance(value, numbers) and isinstance(limit, numbers)
    if not both_numbers and not (isinstance(value, str) and isinstance(limit, str)):
        return False
    if isinstance(value, bool) or isinstance(limit, bool):
        return False
    return bool(value > limit) if greater else bool(value < limit)


def order_fields(filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    order = filters.get("order_filter") or {}
    return [spec for spec in order.get("order_fields") or [] if isinstance(spec, dict) and spec.get("field_name")]


Predicate = Callable[[Record, frozenset[str]], bool]


def _label_values(key: str, values: list[Any]) -> bool:
    """`node_type` with known values becomes a label test, not a property test."""
    return (
        key == "node_type" and bool(values) and all(isinstance(v, str) for v in values) and set(values) <= NODE_LABELS
    )


def _contains(key: str, values: list[Any]) -> Predicate:
    if _label_values(key, values):
        return lambda record, labels: any(value in labels for value in values)
    return lambda record, labels: record.get(key) is not None and _any_same(record[key], values)


def _not_contains(key: str, values: list[Any]) -> Predicate:
    if _label_values(key, values):
        return lambda record, labels: not any(value in labels for value in values)

    def test(record: Record, labels: frozenset[str]) -> bool:
        value = record.get(key)
        return not _any_same("" if value is None else value, values)

    return test


def _in_array(key: str, values: list[Any]) -> Predicate:
    def test(record: Record, labels: frozenset[str]) -> bool:
        array = record.get(key)
        return isinstance(array, list) and any(_any_same(element, values) for element in array)

    return test


def _text_matches(key: str, pattern: re.Pattern[str]) -> Predicate:
    def test(record: Record, labels: frozenset[str]) -> bool:
        value = record.get(key)
        return isinstance(value, str) and pattern.fullmatch(value) is not None

    return test


def _array_matches(key: str, pattern: re.Pattern[str]) -> Predicate:
    def test(record: Record, labels: frozenset[str]) -> bool:
        array = record.get(key)
        return isinstance(array, list) and any(isinstance(e, str) and pattern.fullmatch(e) for e in array)

    return test


def _not_null(key: str) -> Predicate:
    return lambda record, labels: record.get(key) is not None


def _compare(spec: Mapping[str, Any]) -> Predicate:
    key, limit, greater = str(spec.get("field_name") or ""), spec.get("field_value"), bool(spec.get("greater_than"))
    return lambda record, labels: _compares(record.get(key), limit, greater)


class FieldsFilter:
    """One `ReportersFieldsFilters` object, compiled into predicates that are all ANDed."""

    def __init__(self, filters: Mapping[str, Any] | None) -> None:
        filters = filters or {}
        self.order = order_fields(filters)
        self.predicates: list[Predicate] = [
            *(_contains(k, v) for k, v in _filter_in(filters, "contains_filter").items()),
            *(_not_contains(k, v) for k, v in _filter_in(filters, "not_contains_filter").items()),
            *(_in_array(k, v) for k, v in _filter_in(filters, "contains_in_array_filter").items()),
            *(_text_matches(k, _regex(v)) for k, v in _filter_in(filters, "match_filter").items()),
            *(_array_matches(k, _regex(v)) for k, v in _filter_in(filters, "match_in_array_filter").items()),
            *(_not_null(spec["field_name"]) for spec in self.order),
            *(_compare(spec) for spec in filters.get("compare_filter") or [] if isinstance(spec, Mapping)),
        ]

    def matches(self, record: Record, labels: frozenset[str] = frozenset()) -> bool:
        return all(predicate(record, labels) for predicate in self.predicates)

    def select(
        self,
        records: Iterable[Record],
        *,
        labels: frozenset[str] = frozenset(),
        tie_breaker: str | None = None,
        shuffle_with: random.Random | None = None,
    ) -> list[Record]:
        """Matching records in the requested order. Without order fields the order is the input's,
        or a fresh shuffle when `shuffle_with` is given (the console then has no ORDER BY at all)."""
        chosen = [record for record in records if self.matches(record, labels)]
        if not self.order:
            if shuffle_with is not None:
                shuffle_with.shuffle(chosen)
            return chosen
        if tie_breaker:
            chosen.sort(key=lambda record: record.get(tie_breaker) or "")
        for spec in reversed(self.order):
            name = spec["field_name"]
            chosen.sort(key=partial(_sort_key, name=name), reverse=bool(spec.get("descending")))
        limits = [spec["size"] for spec in self.order if spec.get("size")]
        return chosen[: min(limits)] if limits else chosen


def _sort_key(record: Record, name: str) -> tuple[int, Any]:
    """Severity fields by rank; otherwise Cypher's order across types: strings, booleans, numbers."""
    value = record[name]
    if name in SEVERITY_FIELDS:
        return (0, SEVERITY_RANK.get(value, -1))
    if isinstance(value, str):
        return (0, value)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    return (3, str(value))


def apply_window(records: Sequence[Record], window: Mapping[str, Any]) -> list[Record]:
    """SKIP offset LIMIT size; a size of 0 (or less) means no limit."""
    offset = max(0, int(window.get("offset") or 0))
    size = int(window.get("size") or 0)
    return list(records[offset : offset + size] if size > 0 else records[offset:])
