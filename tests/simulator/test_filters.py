"""`ReportersFieldsFilters` semantics and body validation, tested directly."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ci_scan.simulator.bodies import STATUS_REQUEST, parse_body
from ci_scan.simulator.filters import IMAGE_LABELS, FieldsFilter, apply_window
from ci_scan.simulator.responses import ApiError

RECORDS: list[dict[str, Any]] = [
    {"id": "a", "sev": "high", "cve_severity": "high", "score": 7.5, "flag": True, "tags": ["x:1", "y:2"]},
    {"id": "b", "sev": "low", "cve_severity": "low", "score": 2, "flag": False, "tags": []},
    {"id": "c", "sev": "critical", "cve_severity": "critical", "score": 9.8, "flag": True, "tags": None},
    {"id": "d", "cve_severity": "unknown", "score": 0, "flag": 1, "tags": ["z:3"]},
]


def ids(filters: dict[str, Any], **options: Any) -> list[str]:
    return [r["id"] for r in FieldsFilter(filters).select(RECORDS, **options)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["a", "b", "c", "d"]),
        ({"contains_filter": {"filter_in": None}}, ["a", "b", "c", "d"]),
        ({"contains_filter": {"filter_in": {"sev": ["high", "low"]}}}, ["a", "b"]),
        ({"contains_filter": {"filter_in": {"sev": ["high"], "flag": [False]}}}, []),  # keys are ANDed
        ({"contains_filter": {"filter_in": {"flag": [True]}}}, ["a", "c"]),  # 1 is not true
        ({"contains_filter": {"filter_in": {"score": [2.0]}}}, ["b"]),  # 2 == 2.0
        ({"contains_filter": {"filter_in": {"sev": []}}}, []),
        ({"not_contains_filter": {"filter_in": {"sev": ["high"]}}}, ["b", "c", "d"]),
        ({"not_contains_filter": {"filter_in": {"sev": [""]}}}, ["a", "b", "c"]),  # NOT coalesce(null, '')
        ({"contains_in_array_filter": {"filter_in": {"tags": ["y:2", "z:3"]}}}, ["a", "d"]),
        ({"match_filter": {"filter_in": {"sev": ["ig", "^lo"]}}}, ["a", "b"]),  # .*ig.*|.*^lo.*
        ({"match_in_array_filter": {"filter_in": {"tags": [":[13]"]}}}, ["a", "d"]),
        ({"compare_filter": [{"field_name": "score", "field_value": 7.5, "greater_than": True}]}, ["c"]),
        (
            {"compare_filter": [{"field_name": "score", "field_value": 7.5, "greater_than": False}]},
            ["b", "d"],
        ),
        ({"order_filter": {"order_fields": [{"field_name": "sev", "descending": False}]}}, ["c", "a", "b"]),
        ({"contains_filter": {"filter_in": {"node_type": ["image"]}}}, []),  # a label, and records have none
    ],
)
def test_each_filter_kind(filters: dict[str, Any], expected: list[str]) -> None:
    assert ids(filters) == expected


def test_node_type_is_a_label_test() -> None:
    only_images = {"contains_filter": {"filter_in": {"node_type": ["container_image"]}}}
    assert ids(only_images, labels=IMAGE_LABELS) == ["a", "b", "c", "d"]
    not_images = {"not_contains_filter": {"filter_in": {"node_type": ["image"]}}}
    assert ids(not_images, labels=IMAGE_LABELS) == []


def test_severity_order_uses_rank_and_the_tie_breaker() -> None:
    descending = {"order_filter": {"order_fields": [{"field_name": "cve_severity", "descending": True}]}}
    assert ids(descending) == ["c", "a", "b", "d"]  # unknown ranks below low
    records = [{"id": i, "cve_severity": "high", "cve_id": cve} for i, cve in (("p", "CVE-2"), ("q", "CVE-1"))]
    ordered = FieldsFilter(descending).select(records, tie_breaker="cve_id")
    assert [r["id"] for r in ordered] == ["q", "p"]


def test_multiple_order_fields_and_the_size_limit() -> None:
    fields = [
        {"field_name": "flag", "descending": True},
        {"field_name": "score", "descending": False, "size": 3},
    ]
    two_keys = {"order_filter": {"order_fields": fields}}
    assert ids(two_keys) == ["d", "a", "c"]  # numbers sort above booleans; true ones by score; first 3


def test_no_order_keeps_input_order_or_shuffles_with_the_given_rng() -> None:
    assert ids({}) == ["a", "b", "c", "d"]
    shuffled = {tuple(ids({}, shuffle_with=random.Random(seed))) for seed in range(8)}
    assert len(shuffled) > 1 and all(sorted(order) == ["a", "b", "c", "d"] for order in shuffled)


def test_an_invalid_regex_is_a_500() -> None:
    with pytest.raises(ApiError) as caught:
        FieldsFilter({"match_filter": {"filter_in": {"sev": ["("]}}})
    assert caught.value.response.status == 500


@pytest.mark.parametrize(
    ("window", "expected"),
    [({"offset": 0, "size": 0}, 4), ({"offset": 1, "size": 2}, 2), ({"offset": 3, "size": 10}, 1),
     ({"offset": -5, "size": 1}, 1), ({"offset": 9, "size": 0}, 0)],
)  # fmt: skip
def test_windows(window: dict[str, int], expected: int) -> None:
    assert len(apply_window(RECORDS, window)) == expected


@pytest.mark.parametrize(
    ("raw", "status", "fields"),
    [
        (b'{"scan_ids": null, "bulk_scan_id": ""}', None, None),
        (b'{"bulk_scan_id": ""}', 400, {"scan_ids": "Field validation for 'ScanIDs' failed"}),
        (b'{"scan_ids": [1], "bulk_scan_id": ""}', 400, None),
        (
            b'{"scan_ids": [], "bulk_scan_id": null}',
            400,
            {"bulk_scan_id": "Field validation for 'BulkScanID' failed"},
        ),
        (b'{"scan_ids": [], "bulk_scan_id": true}', 400, None),
        (b'{"scan_ids": [], "bulk_scan_id": "", "extra": 1}', None, None),  # unknown fields are ignored
    ],
)
def test_parse_body(raw: bytes, status: int | None, fields: dict[str, str] | None) -> None:
    if status is None:
        assert parse_body(raw, STATUS_REQUEST)["bulk_scan_id"] == ""
        return
    with pytest.raises(ApiError) as caught:
        parse_body(raw, STATUS_REQUEST)
    assert caught.value.response.status == status
    assert json.loads(caught.value.response.body)["error_fields"] == fields
