"""What ci-scan does differently inside a CI system: which one it is, step outputs, annotations, log sections.

- Detected from the variables each CI sets: GitHub Actions (`GITHUB_ACTIONS`), GitLab CI (`GITLAB_CI`),
  Jenkins (`JENKINS_URL`), Azure Pipelines (`TF_BUILD`), else any CI that sets `CI`.
- In CI, progress lines carry the UTC time, and the scan's progress is one collapsible section
  (GitHub's `::group::`, GitLab's `section_start`), so the summary stands out.
- In GitHub Actions the run's outcome is written to `$GITHUB_OUTPUT` (see `step_outputs`), and each
  gate-failing finding becomes an `::error` annotation (the first MAX_ANNOTATIONS), on the Dockerfile when
  it is known. Console text in an annotation is escaped as the runner expects, so it cannot end the
  command or start another.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ci_scan.decision import Decision
from ci_scan.dockerfile import Dockerfile
from ci_scan.errors import ExitCode
from ci_scan.formats.text import headline
from ci_scan.models import Severity

MAX_ANNOTATIONS = 10
"""GitHub shows at most 10 error annotations per step."""
SECTION = "ci_scan_scan"
_MESSAGE_ESCAPES = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A"})
_PROPERTY_ESCAPES = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"})


@dataclass(frozen=True)
class CiSystem:
    name: str
    """`github`, `gitlab`, `jenkins`, `azure`, `ci` (another CI) or "" (not in CI)."""
    github_output: str = ""
    """GitHub's step-output file, when there is one."""

    @property
    def in_ci(self) -> bool:
        return bool(self.name)

    def section_start(self, title: str, now: float) -> str:
        """The line that opens the scan's collapsible section; "" where the CI has none."""
        if self.name == "github":
            return f"::group::{title}"
        if self.name == "gitlab":
            return f"\x1b[0Ksection_start:{int(now)}:{SECTION}[collapsed=false]\r\x1b[0K{title}"
        if self.name == "azure":
            return f"##[group]{title}"
        return ""

    def section_end(self, now: float) -> str:
        if self.name == "github":
            return "::endgroup::"
        if self.name == "gitlab":
            return f"\x1b[0Ksection_end:{int(now)}:{SECTION}\r\x1b[0K"
        if self.name == "azure":
            return "##[endgroup]"
        return ""


def detect(environ: Mapping[str, str]) -> CiSystem:
    def set_(name: str) -> bool:
        return environ.get(name, "").strip().lower() not in ("", "0", "false")

    if set_("GITHUB_ACTIONS"):
        return CiSystem("github", environ.get("GITHUB_OUTPUT", "").strip())
    if set_("GITLAB_CI"):
        return CiSystem("gitlab")
    if set_("JENKINS_URL"):
        return CiSystem("jenkins")
    if set_("TF_BUILD"):
        return CiSystem("azure")
    return CiSystem("ci") if set_("CI") else CiSystem("")


def timestamped(line: str, now: float) -> str:
    """`12:00:05 <line>`: the UTC time of day, for progress lines in a CI log."""
    return f"{time.strftime('%H:%M:%S', time.gmtime(now))} {line}"


def step_outputs(decision: Decision | None, code: ExitCode, reports: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The action's outputs: `verdict`, `exit-code`, `scan-ids` (space separated), `digests` (the
    `<repository>@<digest>` of each image that passed, one a line), `failing`, the count of each
    severity (`critical` ... `unknown`, unmasked findings) and the path of each report written, by its
    option (`junit`, `sarif`, `json`, `gitlab-report`, `sbom`, `markdown`)."""
    outputs = {"verdict": _verdict(decision, code), "exit-code": str(int(code))}
    targets = decision.targets if decision else ()
    outputs["scan-ids"] = " ".join(t.result.scan_id for t in targets if t.result.scan_id)
    outputs["digests"] = "\n".join(dict.fromkeys(
        f"{t.result.target.repository}@{t.result.target.digest}" for t in targets
        if t.verdict == "passed" and t.result.target.digest))
    outputs["failing"] = str(len(decision.failing) if decision else 0)
    counts = decision.counts() if decision else {}
    outputs.update((severity.label, str(counts.get(severity, 0))) for severity in sorted(Severity, reverse=True))
    outputs.update((name.replace("_", "-"), path) for name, path in reports)
    return outputs


def _verdict(decision: Decision | None, code: ExitCode) -> str:
    if decision is not None and decision.targets:
        return decision.verdict
    return {ExitCode.TIMED_OUT: "timed_out", ExitCode.USAGE: "error"}.get(code, "incomplete")


def github_output_text(outputs: Mapping[str, str]) -> str:
    """`name=value` lines; a value with a line break in GitHub's `name<<delimiter` form."""
    lines = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ci_scan_{secrets.token_hex(8)}"
            lines += [f"{name}<<{delimiter}", value, delimiter]
        else:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def write_github_outputs(path: str, outputs: Mapping[str, str]) -> str:
    """Append the step's outputs to $GITHUB_OUTPUT; "" when written, else why not (only a warning)."""
    try:
        with open(path, "a", encoding="utf-8") as file:
            file.write(github_output_text(outputs))
    except OSError as exc:
        return f"could not write the step outputs to {path}: {exc.strerror or exc}"
    return ""


def failing_annotations(decision: Decision, dockerfile: Dockerfile | None) -> list[str]:
    """An `::error` line for each of the first MAX_ANNOTATIONS gate-failing findings, most severe first,
    then one `::warning` for the rest."""
    failing = decision.failing
    lines = []
    where = ""
    if dockerfile is not None:
        where = f"file={_property(dockerfile.path)},"
    for target, finding in failing[:MAX_ANNOTATIONS]:
        place = where
        if place:
            from_base = finding.details is not None and finding.details.cve_type.lower() == "base"
            line = dockerfile.base.start_line if from_base and dockerfile and dockerfile.base else 1
            place += f"line={line},"
        title = _property(f"{finding.rule_id} ({finding.severity.label}) in {target.result.target.name}")
        message = f"{headline(finding)}: {target.reason_for(finding)}"
        lines.append(f"::error {place}title={title}::{_message(message)}")
    if len(failing) > MAX_ANNOTATIONS:
        lines.append(f"::warning::{len(failing) - MAX_ANNOTATIONS} more findings fail the gate: the reports list them")
    return lines


def _message(text: str) -> str:
    return text.translate(_MESSAGE_ESCAPES)


def _property(text: str) -> str:
    return text.translate(_PROPERTY_ESCAPES)
