"""The format registry: every format is named once and renders any result."""

from __future__ import annotations

import pytest

from ci_scan.formats import FORMATS, Format
from ci_scan.models import ScanResult
from tests.formats.helpers import decide


def test_the_registry_names_each_format_once() -> None:
    assert sorted(FORMATS) == ["json", "junit", "sarif"]
    assert all(fmt.name == key for key, fmt in FORMATS.items())
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
