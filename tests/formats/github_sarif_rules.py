"""The checkable rules of ../shared/schemas/GITHUB_SARIF_RULES.md ([action] and [docs]) as plain code."""

from __future__ import annotations

import re
from typing import Any

MAX_RUNS = 20
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_LOCATIONS = 1_000
MAX_TAGS = 20
MAX_DESCRIPTION = 1024
REGION_KEYS = ("startLine", "startColumn", "endLine", "endColumn")
_UNSAFE_URI = re.compile(r"[^A-Za-z0-9\-._~/%]|%(?![0-9A-F]{2})")


def _text(value: Any) -> str:
    return value.get("text", "") if isinstance(value, dict) else ""


def github_violations(log: Any) -> list[str]:
    """Every rule the log breaks, as readable sentences; [] when GitHub would accept it."""
    problems: list[str] = []
    if not log.get("$schema") or log.get("version") != "2.1.0":
        problems.append("$schema and version 2.1.0 are required")
    runs = log.get("runs")
    if not isinstance(runs, list):
        return [*problems, "Missing 'runs' array"]
    if len(runs) > MAX_RUNS:
        problems.append(f"{len(runs)} runs, over {MAX_RUNS}")
    keys = [_run_key(run) for run in runs]
    if len(set(keys)) != len(keys):
        problems.append("two runs share tool and automationDetails.id (category)")
    for number, run in enumerate(runs):
        problems += [f"run {number}: {problem}" for problem in _run_violations(run)]
    return problems


def _run_key(run: Any) -> tuple[Any, ...]:
    driver = run.get("tool", {}).get("driver", {})
    fields = ("name", "fullName", "version", "semanticVersion", "guid")
    return (*(driver.get(f) for f in fields), run.get("automationDetails", {}).get("id"))


def _run_violations(run: Any) -> list[str]:
    driver = run.get("tool", {}).get("driver", {})
    rules = driver.get("rules", [])
    results = run.get("results")
    problems = []
    if not driver.get("name") or driver.get("name") == "CodeQL":
        problems.append(f"driver name {driver.get('name')!r} is empty or CodeQL (skips validation)")
    if not isinstance(results, list):
        return [*problems, "Missing 'results' array in run"]
    if len(results) > MAX_RESULTS or len(rules) > MAX_RULES:
        problems.append(f"{len(results)} results / {len(rules)} rules, over {MAX_RESULTS}")
    problems += [f"rule {rule.get('id')!r}: {p}" for rule in rules for p in _rule_violations(rule)]
    for number, result in enumerate(results):
        problems += [f"result {number}: {p}" for p in _result_violations(result, rules)]
    return problems


def _rule_violations(rule: Any) -> list[str]:
    problems = []
    if not rule.get("id"):
        problems.append("no id")
    for key in ("shortDescription", "fullDescription", "help"):
        text = _text(rule.get(key))
        if not text.strip() or (key != "help" and len(text) > MAX_DESCRIPTION):
            problems.append(f"{key}.text empty or over {MAX_DESCRIPTION} characters")
    properties = rule.get("properties", {})
    if len(properties.get("tags", [])) > MAX_TAGS:
        problems.append("over 20 tags")
    if "security-severity" in properties:
        value = properties["security-severity"]
        try:
            valid = isinstance(value, str) and 0.0 < float(value) <= 10.0
        except ValueError:
            valid = False
        if not valid:
            problems.append(f"security-severity {value!r} is not a string number in (0, 10]")
    return problems


def _result_violations(result: Any, rules: list[Any]) -> list[str]:
    problems = []
    if not _text(result.get("message")).strip():
        problems.append("empty message.text")
    index = result.get("ruleIndex")
    if index is not None and (index >= len(rules) or rules[index].get("id") != result.get("ruleId")):
        problems.append(f"ruleIndex {index} does not name rule {result.get('ruleId')!r}")
    if not result.get("partialFingerprints", {}).get("primaryLocationLineHash"):
        problems.append("no partialFingerprints.primaryLocationLineHash")
    locations = result.get("locations") or []
    if not 1 <= len(locations) <= MAX_LOCATIONS:
        problems.append(f"{len(locations)} locations; 1 to {MAX_LOCATIONS} needed")
    for location in locations:
        physical = location.get("physicalLocation", {})
        uri = physical.get("artifactLocation", {}).get("uri", "")
        if not uri or _UNSAFE_URI.search(uri) or uri.startswith("/"):
            problems.append(f"artifact URI {uri!r} is missing, absolute or not URI-safe")
        region = physical.get("region", {})
        if not all(isinstance(region.get(key), int) and region[key] >= 1 for key in REGION_KEYS):
            problems.append(f"region {region} lacks one of {REGION_KEYS}")
    return problems
