"""Golden files pin each report's exact bytes for the sample runs: any change to an output is a visible diff.

Regenerate after an intended change with `CI_SCAN_UPDATE_GOLDEN=1 make test` and review the diff.
"""

from __future__ import annotations

import pytest

from ci_scan.formats import report
from ci_scan.summary import render_summary
from tests.formats.helpers import assert_golden, decide

FILES = {"junit": "junit.xml", "sarif": "sarif", "json": "json", "summary": "summary.txt"}
CASES = [(output, fixture) for output in sorted(FILES) for fixture in ("sample_run", "multi_run")] + [
    ("summary", "nasty_run"), ("junit", "nasty_run")]  # hostile text, where a terminal or an XML parser meets it


@pytest.mark.parametrize(("output", "fixture"), CASES)
def test_each_output_is_pinned(output: str, fixture: str, request: pytest.FixtureRequest) -> None:
    decision = decide(request.getfixturevalue(fixture), "high")
    text = render_summary(decision) if output == "summary" else report(output).load().render(decision)
    assert_golden(f"{fixture.removesuffix('_run')}.{FILES[output]}", text)
