"""The format registry: every format is named once and renders any result."""

from __future__ import annotations

import pytest

from ci_scan.formats import FORMATS, Format
from ci_scan.models import ScanResult
from tests.formats.helpers import decide


def test_the_registry_names_each_format_once() -> None:
    assert sorted(FORMATS) == ["json", "junit", "sarif"]
    filenames = [fmt.default_filename for fmt in FORMATS.values()]
    assert len(set(filenames)) == len(filenames)
    assert all(fmt.description.strip() for fmt in FORMATS.values())


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize("fixture", ["sample_result", "empty_result"])
def test_every_format_renders(name: str, fixture: str, request: pytest.FixtureRequest) -> None:
    result: ScanResult = request.getfixturevalue(fixture)
    fmt: Format = FORMATS[name]
    text = fmt.render(result, decide(result))
    assert text.endswith("\n") and len(text) > 100
    if result.findings:
        assert result.findings[0].cve_id in text


_RENDER_ALL = """
import hashlib, sys
from tests.conftest import sample_result
from tests.formats.helpers import decide
from ci_scan.formats import FORMATS
result = sample_result.__wrapped__()
for name in sorted(FORMATS):
    print(name, hashlib.sha256(FORMATS[name].render(result, decide(result)).encode()).hexdigest())
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
    assert len(outputs[0].splitlines()) == len(FORMATS)
