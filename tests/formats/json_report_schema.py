"""JSON Schema (draft 2020-12) of the JSON report, schema_version 1: the contract the tests hold it to."""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}
_SCORE = {"type": "number", "minimum": 0}
_TIME = {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"}
_SEVERITY = {"enum": ["critical", "high", "medium", "low", "unknown"]}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these keys."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


FINDING = _object(
    {
        "cve_id": _STRING,
        "severity": _SEVERITY,
        "package": _STRING,
        "package_name": _STRING,
        "package_version": _STRING,
        "package_path": _STRING,
        "fixed_in": _STRING,
        "cvss_score": _SCORE,
        "epss_score": _SCORE,
        "cisa_kev": {"type": "boolean"},
        "description": _STRING,
        "link": _STRING,
        "urls": {"type": "array", "items": _STRING},
        "cve_type": _STRING,
        "layer": _STRING,
        "attack_vector": _STRING,
        "exploit_poc": _STRING,
        "masked": {"type": "boolean"},
        "gate": {"enum": ["failed", "passed", "masked"]},
        "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "result_id": _STRING,
    }
)

JSON_REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    **_object(
        {
            "schema_version": {"const": 1},
            "tool": _object({"name": {"const": "ci-scan"}, "version": _STRING}),
            "target": _object(
                {
                    "name": _STRING,
                    "image": _NULLABLE_STRING,
                    "registry": _NULLABLE_STRING,
                    "repository": _NULLABLE_STRING,
                    "tag": _NULLABLE_STRING,
                    "digest": _NULLABLE_STRING,
                    "node_id": _STRING,
                    "node_type": _STRING,
                    "registry_id": _NULLABLE_STRING,
                }
            ),
            "scan": _object(
                {"id": _STRING, "console_url": _NULLABLE_STRING, "started_at": _TIME, "finished_at": _TIME}
            ),
            "counts": _object(
                dict.fromkeys(("critical", "high", "medium", "low", "unknown", "masked", "total"), _COUNT)
            ),
            "console_counts": {"type": "object", "additionalProperties": _COUNT},
            "gate": _object(
                {
                    "fail_on": {"enum": ["critical", "high", "medium", "low", "none"]},
                    "verdict": {"enum": ["passed", "failed"]},
                    "passed": {"type": "boolean"},
                    "reason": {"type": "string", "minLength": 1},
                    "exit_code": {"enum": [0, 1]},
                    "failing": _COUNT,
                }
            ),
            "findings": {"type": "array", "items": FINDING},
            "warnings": {"type": "array", "items": _STRING},
        }
    ),
}
