"""Helpers shared by the report tests."""

from __future__ import annotations

from ci_scan.gate import GateDecision, Policy, evaluate
from ci_scan.models import ImageRef, ScanResult, ScanTarget

LARGE_SIZE = 20_000
DIGEST = "sha256:" + "ab" * 32


def decide(result: ScanResult, fail_on: str = "high") -> GateDecision:
    return evaluate(result, Policy.from_fail_on(fail_on))


def image_target(reference: str) -> ScanTarget:
    image = ImageRef.parse(reference)
    return ScanTarget(node_id="node-" + reference, node_type="image", name=reference, image=image)


NASTY_TEXT = "ctl\x00\x01\x08\x0b\x0c\x1b\x7f end; quotes ' \" ; xml <b>&amp;</b> ]]> ; ünï 漢字 🚀 \u202e; lone \ud800"
"""Control characters, quotes, markup, non-ASCII, a bidi override and a lone surrogate."""
