"""Helpers shared by the report tests."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ci_scan.decision import Decision, Policy
from ci_scan.decision import decide as decide_run
from ci_scan.models import Finding, ImageRef, RunResult, Severity, Target, TargetResult, VulnerabilityDetails

LARGE_SIZE = 20_000
GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("CI_SCAN_UPDATE_GOLDEN") == "1"
"""Read at import: an autouse fixture clears every CI_SCAN_* variable before each test."""
DIGEST = "sha256:" + "ab" * 32


def decide(run: RunResult, fail_on: str = "high") -> Decision:
    return decide_run(run, Policy.from_fail_on(fail_on))


def image_target(reference: str, digest: str | None = None) -> Target:
    image = ImageRef.parse(reference)
    return Target(kind="image", node_id="node-" + reference, node_type="image", name=reference, image=image,
                  digest=digest)


def vulnerability(rule_id: str, severity: Severity, component: str, *, cve_type: str = "", **fields: Any) -> Finding:
    return Finding("vulnerability", rule_id, severity, component, details=VulnerabilityDetails(cve_type=cve_type),
                   **fields)


def only(run: RunResult) -> TargetResult:
    """The one target of a single-target run."""
    (target,) = run.targets
    return target


def with_target(run: RunResult, **changes: Any) -> RunResult:
    """`run` with its one target's result changed."""
    return replace(run, targets=(replace(only(run), **changes),))


def single(result: TargetResult, console_url: str = "https://console.example.com", **fields: Any) -> RunResult:
    return RunResult(targets=(result,), console_url=console_url, **fields)


NASTY_TEXT = "ctl\x00\x01\x08\x0b\x0c\x1b\x7f end; quotes ' \" ; xml <b>&amp;</b> ]]> ; ünï 漢字 🚀 \u202e; lone \ud800"
"""Control characters, quotes, markup, non-ASCII, a bidi override and a lone surrogate."""


def assert_golden(name: str, text: str) -> None:
    """`text` is byte for byte the golden file `name`; CI_SCAN_UPDATE_GOLDEN=1 rewrites it instead."""
    golden = GOLDEN / name
    if UPDATE_GOLDEN:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8", newline="\n")
    assert golden.exists(), f"no golden file {golden}: run with CI_SCAN_UPDATE_GOLDEN=1 to write it"
    assert text == golden.read_text(encoding="utf-8"), f"{name} changed: run with CI_SCAN_UPDATE_GOLDEN=1 and review"
