"""Report formats. `REPORTS` is the one place that names them; it also declares the CLI's report options.

Declaring a report costs no import of its renderer: `ReportSpec.load()` imports it when a run needs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ci_scan.formats.base import Format


@dataclass(frozen=True)
class ReportSpec:
    name: str
    """The report's option (`--<name> PATH`) and its `CI_SCAN_<NAME>` variable."""
    description: str
    default_filename: str
    renderer: str
    """`module:Class` of the renderer; constructed with the report's own options."""
    stdout: bool = True
    """Whether the report may go to standard output (`-`)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """The renderer's own options: option name -> help."""
    inputs: tuple[str, ...] = ()
    """The settings (`Settings` fields, read before the run) the renderer is also constructed with."""

    def load(self, **options: Any) -> Format:
        module, _, cls = self.renderer.partition(":")
        renderer: Format = getattr(importlib.import_module(module), cls)(**options)
        return renderer


REPORTS: tuple[ReportSpec, ...] = (
    ReportSpec("junit", "Write a JUnit XML report here (GitLab, Jenkins, Azure DevOps).", "ci-scan.junit.xml",
               "ci_scan.formats.junit:JunitFormat"),
    ReportSpec("sarif", "Write a SARIF 2.1.0 report here (GitHub code scanning).", "ci-scan.sarif",
               "ci_scan.formats.sarif:SarifFormat", inputs=("dockerfile",),
               options={"sarif_category": "The prefix of each SARIF run's category (automationDetails.id), "
                                          "so that several jobs' uploads don't replace each other's alerts."}),
    ReportSpec("json", "Write the JSON report here ('-' for standard output).", "ci-scan.json",
               "ci_scan.formats.json:JsonFormat"),
    ReportSpec("gitlab_report", "Write a GitLab container-scanning report here (artifacts: reports: "
               "container_scanning).", "gl-container-scanning-report.json", "ci_scan.formats.gitlab:GitlabFormat"),
    ReportSpec("sbom", "Write the scanned images' software bill of materials here, as CycloneDX JSON (artifacts: "
               "reports: cyclonedx).", "ci-scan.cdx.json", "ci_scan.formats.cyclonedx:CycloneDxFormat"),
    ReportSpec("markdown", "Write a Markdown summary here (in GitHub Actions it also goes to the job summary).",
               "ci-scan.md", "ci_scan.formats.markdown:MarkdownFormat"),
)
REPORT_NAMES = tuple(spec.name for spec in REPORTS)


def report(name: str) -> ReportSpec:
    return next(spec for spec in REPORTS if spec.name == name)


__all__ = ["REPORTS", "REPORT_NAMES", "ReportSpec", "report"]
