"""Which module may import what: httpx only in the client, renderers only when a report is written."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

PACKAGE = ROOT / "ci_scan"


def _imported_modules(path: str) -> set[str]:
    tree = ast.parse((PACKAGE / path).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_client_names_httpx() -> None:
    offenders = [
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if path.name != "client.py" and "httpx" in _imported_modules(str(path.relative_to(PACKAGE)))
    ]
    assert offenders == []


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(done.stdout.split())


def test_settings_and_the_app_do_not_load_httpx_even_indirectly() -> None:
    loaded = _loaded_after("import ci_scan.app, ci_scan.config, ci_scan.cli, ci_scan.scan, ci_scan.decision")
    assert "ci_scan" in loaded
    assert "httpx" not in loaded and "httpcore" not in loaded


def test_declaring_the_report_options_loads_no_renderer() -> None:
    loaded = _loaded_after("import ci_scan.cli, ci_scan.options")
    assert "ci_scan.options" in loaded
    assert not {"junit_xml", "sarif_om", "httpx", "ci_scan.scan", "ci_scan.models", "ci_scan.decision"} & loaded


def test_the_client_does_load_httpx() -> None:
    """The probe can tell: without this, the tests above could pass with a broken probe."""
    assert "httpx" in _loaded_after("import ci_scan.client")
