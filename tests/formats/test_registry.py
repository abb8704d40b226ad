"""The report registry: every report is declared once, loads its renderer, and renders any run."""

from __future__ import annotations

import pytest

from ci_scan.formats import REPORT_NAMES, REPORTS, report
from ci_scan.models import RunResult
from tests.formats.helpers import decide


def test_the_registry_names_each_report_once() -> None:
    assert sorted(REPORT_NAMES) == ["gitlab_report", "json", "junit", "markdown", "sarif", "sbom"]
    filenames = [spec.default_filename for spec in REPORTS]
    assert len(set(filenames)) == len(filenames)
    assert all(spec.description.strip() for spec in REPORTS)


@pytest.mark.parametrize("name", sorted(REPORT_NAMES))
def test_each_spec_loads_the_renderer_it_declares(name: str) -> None:
    spec = report(name)
    renderer = spec.load()
    assert (renderer.name, renderer.default_filename) == (spec.name, spec.default_filename)
    assert renderer.description.strip()


@pytest.mark.parametrize("name", sorted(REPORT_NAMES))
@pytest.mark.parametrize("fixture", ["sample_run", "empty_run", "multi_run"])
def test_every_format_renders(name: str, fixture: str, request: pytest.FixtureRequest) -> None:
    run: RunResult = request.getfixturevalue(fixture)
    text = report(name).load().render(decide(run))
    assert text.endswith("\n") and len(text) > 100
    for target in run.targets:
        if target.findings:
            assert target.findings[0].rule_id in text


_RENDER_ALL = """
import hashlib, sys
from tests.conftest import multi_run, sample_run
from tests.formats.helpers import decide
from ci_scan.formats import REPORTS
for run in (sample_run.__wrapped__(), multi_run.__wrapped__()):
    for spec in REPORTS:
        print(spec.name, hashlib.sha256(spec.load().render(decide(run)).encode()).hexdigest())
"""


def test_rendering_does_not_depend_on_hash_seeds_or_runs() -> None:
    """Two processes with different hash seeds render byte-identical reports (set order cannot leak)."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _RENDER_ALL], capture_output=True, text=True, env=env,
                              cwd=ROOT, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 2 * len(REPORTS)
