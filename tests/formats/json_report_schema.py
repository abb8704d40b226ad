"""JSON Schema (draft 2020-12) of the JSON report, schema_version 2: the contract the tests hold it to."""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_BOOLEAN = {"type": "boolean"}
_COUNT = {"type": "integer", "minimum": 0}
_SCORE = {"type": "number", "minimum": 0}
_TIME = {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"}
_SEVERITY = {"enum": ["critical", "high", "medium", "low", "unknown"]}
_VERDICT = {"enum": ["passed", "failed", "incomplete", "timed_out"]}
_EXIT_CODE = {"enum": [0, 1, 3, 4]}
_TEXTS = {"type": "array", "items": _STRING}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """An object with exactly these keys (those in `optional` may be left out)."""
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }


VULNERABILITY_DETAILS = _object(
    {
        "cve_type": _STRING,
        "layer": _STRING,
        "attack_vector": _STRING,
        "network": _STRING,
        "overall_score": _SCORE,
        "epss_score": _SCORE,
        "cisa_kev": _BOOLEAN,
        "exploit_poc": _STRING,
        "live_connection": _BOOLEAN,
        "urls": _TEXTS,
    }
)

FINDING = {
    **_object(
        {
            "kind": {"enum": ["vulnerability", "secret", "malware"]},
            "rule_id": _STRING,
            "cve_id": _STRING,
            "severity": _SEVERITY,
            "component": _STRING,
            "package_name": _STRING,
            "package_version": _STRING,
            "location": _STRING,
            "fixed_in": _STRING,
            "score": _SCORE,
            "description": _STRING,
            "link": _STRING,
            "details": {"oneOf": [{"type": "null"}, VULNERABILITY_DETAILS]},
            "masked": _BOOLEAN,
            "disposition": {"enum": ["failing", "passing", "masked", "vex", "ignored", "existing", "unfixed",
                                     "expired"]},
            "reason": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
            "result_id": _STRING,
        },
        optional=("cve_id",),
    ),
    # cve_id: present for vulnerabilities, and only for them
    "if": {"properties": {"kind": {"const": "vulnerability"}}},
    "then": {"required": ["cve_id"]},
    "else": {"not": {"required": ["cve_id"]}},
}

_CRITERION = {"type": "string", "pattern": "^--[a-z-]+( [0-9a-z.]+)?$"}
SOURCES = {"type": "array", "items": _object({"criterion": _CRITERION, "source": {"type": "string", "minLength": 1}})}

COUNTS = _object(dict.fromkeys(("critical", "high", "medium", "low", "unknown", "masked", "total"), _COUNT))

TARGET = _object(
    {
        "target": _object(
            {
                "name": _STRING,
                "kind": {"enum": ["image", "host", "container"]},
                "image": _NULLABLE_STRING,
                "registry": _NULLABLE_STRING,
                "repository": _NULLABLE_STRING,
                "tag": _NULLABLE_STRING,
                "digest": {"type": ["string", "null"], "pattern": "^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"},
                "node_id": _STRING,
                "node_type": _STRING,
                "registry_id": _NULLABLE_STRING,
            }
        ),
        "scan": _object(
            {"id": _NULLABLE_STRING, "status": _NULLABLE_STRING, "started_at": _TIME, "finished_at": _TIME}
        ),
        "verdict": _VERDICT,
        "reason": {"type": "string", "minLength": 1},
        "exit_code": _EXIT_CODE,
        "error": {"type": ["string", "null"], "minLength": 1},
        "timed_out": _BOOLEAN,
        "notes": _TEXTS,
        "counts": COUNTS,
        "console_counts": {"type": "object", "additionalProperties": _COUNT},
        "policy": {"oneOf": [{"type": "null"}, _object({"scope": {"type": "string", "minLength": 1},
                                                         "criteria": {"type": "array", "items": _CRITERION},
                                                         "sources": SOURCES})]},
        "rules": {
            "type": "array",
            "items": _object({"rule": _STRING, "limit": _STRING, "measured": {"type": "number", "minimum": 0},
                              "tripped": _BOOLEAN}),
        },
        "findings": {"type": "array", "items": FINDING},
        "warnings": _TEXTS,
    }
)

JSON_REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    **_object(
        {
            "schema_version": {"const": 2},
            "tool": _object({"name": {"const": "ci-scan"}, "version": _STRING}),
            "console_url": _NULLABLE_STRING,
            "gate": _object(
                {
                    "fail_on": {"enum": ["critical", "high", "medium", "low", "unknown", "none"]},
                    "criteria": {"type": "array", "items": _CRITERION},
                    "sources": SOURCES,
                    "scoped": _BOOLEAN,
                    "narrowing": {"type": "array", "items": _object({
                        "option": {"enum": ["--only-network", "--only-live", "--ignore-unfixed"]},
                        "source": {"type": "string", "minLength": 1}})},
                    "baseline": _NULLABLE_STRING,
                    "vex": {"type": "array", "items": _object({
                        "statement": _STRING, "vulnerability": _STRING,
                        "status": {"enum": ["not_affected", "fixed", "affected", "under_investigation"]},
                        "justification": _STRING})},
                    "verdict": _VERDICT,
                    "passed": _BOOLEAN,
                    "reason": {"type": "string", "minLength": 1},
                    "exit_code": _EXIT_CODE,
                    "failing": _COUNT,
                }
            ),
            "counts": COUNTS,
            "targets": {"type": "array", "items": TARGET},
            "warnings": _TEXTS,
        }
    ),
}
