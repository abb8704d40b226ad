"""The Jenkins example (examples/jenkins/Jenkinsfile), run as a Jenkins agent would run it.

Its `sh` steps are taken from the Jenkinsfile itself and run in order with bash, in a workspace, with the
variables Jenkins sets (the build's, the parameters', the pipeline's `environment` and, inside
`withCredentials`, the API token), against the console simulator over real HTTP. Its Groovy is checked by
a small reader of the file's strings and blocks: the exit code's mapping to the build's result, where
the reports are recorded, and that the API token never goes into a Groovy string that interpolates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from ci_scan.simulator import ADMIN_TOKEN
from tests.conftest import ROOT, shared_path
from tests.e2e.conftest import Simulator, ci_scan_command, free_port, running_simulator

pytestmark = pytest.mark.e2e

JENKINSFILE = ROOT / "examples" / "jenkins" / "Jenkinsfile"
DOCS = ROOT / "docs" / "jenkins.md"
REG = "registry.example.com/team"
COMMIT = "5f3c9a0e8b7d6c5b4a39281706f5e4d3c2b1a098"
REPORTS = ("ci-scan.junit.xml", "ci-scan.sarif", "ci-scan.json", "ci-scan.md")
BINDING = "withCredentials([string(credentialsId: 'deepfence-api-token', variable: 'DEEPFENCE_API_TOKEN')])"


# --- Reading the Groovy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A piece of the Jenkinsfile: code, a comment, or a string literal (`kind` is its opening quote)."""

    kind: str
    start: int
    end: int
    text: str


_OPENERS = ("'''", '"""', "'", '"', "//", "/*")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "s": " ", "t": "\t", "\\": "\\", "'": "'", '"': '"',
            "$": "$", "\n": ""}


def line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def groovy_tokens(source: str) -> list[Token]:
    """Code, comments and quoted strings, in order; enough Groovy for a Jenkinsfile without slashy strings."""
    tokens: list[Token] = []
    index = code_start = 0
    while index < len(source):
        opener = next((o for o in _OPENERS if source.startswith(o, index)), None)
        if opener is None:
            index += 1
            continue
        if code_start < index:
            tokens.append(Token("code", code_start, index, source[code_start:index]))
        if opener == "//":
            newline = source.find("\n", index)
            end, kind = (len(source) if newline < 0 else newline), "comment"
        elif opener == "/*":
            end, kind = source.index("*/", index + 2) + 2, "comment"
        else:
            end, kind = _string_end(source, index, opener), opener
        tokens.append(Token(kind, index, end, source[index:end]))
        index = code_start = end
    if code_start < len(source):
        tokens.append(Token("code", code_start, len(source), source[code_start:]))
    return tokens


def _string_end(source: str, start: int, quote: str) -> int:
    index = start + len(quote)
    while index < len(source):
        if source[index] == "\\":
            index += 2
        elif source.startswith(quote, index):
            return index + len(quote)
        elif len(quote) == 1 and source[index] == "\n":
            raise ValueError(f"line {line_of(source, start)}: a {quote}-quoted string runs past its line")
        else:
            index += 1
    raise ValueError(f"line {line_of(source, start)}: a string is never closed")


def string_value(token: Token) -> str:
    """What a single-quoted Groovy string holds: its escapes applied (a backslash at a line's end joins lines)."""
    assert token.kind in ("'", "'''"), token

    def unescape(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u") and len(escape) == 5:
            return chr(int(escape[1:], 16))
        if escape not in _ESCAPES:
            raise ValueError(f"unknown Groovy escape \\{escape} in {token.text[:40]!r}")
        return _ESCAPES[escape]

    body = token.text[len(token.kind):-len(token.kind)]
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", unescape, body, flags=re.DOTALL)


def skeleton(source: str, tokens: list[Token]) -> str:
    """The source with every string's and comment's text blanked (same offsets), for matching braces."""
    return "".join(t.text if t.kind == "code" else re.sub(r"[^\n]", " ", t.text) for t in tokens)


def closing(skel: str, open_index: int) -> int:
    """The offset of the bracket that closes the one at `open_index` in a skeleton."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    opener = skel[open_index]
    depth = 0
    for index in range(open_index, len(skel)):
        if skel[index] == opener:
            depth += 1
        elif skel[index] == pairs[opener]:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opener!r} at offset {open_index}")


def block(source: str, skel: str, pattern: str, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """The span inside the braces of the first `pattern {` in code (not in a string or comment) in start..end."""
    for match in re.compile(pattern + r"\s*\{").finditer(source, start, len(source) if end is None else end):
        if skel[match.start()] != " " and skel[match.end() - 1] == "{":
            return match.end(), closing(skel, match.end() - 1)
    raise AssertionError(f"no {pattern!r} block in the Jenkinsfile")


@dataclass(frozen=True)
class ShStep:
    script: str
    return_status: bool
    start: int
    line: int


class Jenkinsfile:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = groovy_tokens(source)
        self.skel = skeleton(source, self.tokens)

    @classmethod
    def read(cls) -> Jenkinsfile:
        return cls(JENKINSFILE.read_text(encoding="utf-8"))

    def block(self, pattern: str, start: int = 0, end: int | None = None) -> tuple[int, int]:
        return block(self.source, self.skel, pattern, start, end)

    def sh_steps(self) -> list[ShStep]:
        """Every sh step's script, in order: `sh '''...'''` or `sh(..., script: '''...''')`.

        Any other triple-quoted string, or an sh step given another kind of string, fails the test."""
        steps = []
        for token in self.tokens:
            if token.kind != "'''":
                continue
            line = line_of(self.source, token.start)
            call = re.search(r"\bsh(?:\s*\((?P<args>[^()]*?)\bscript:\s*|\s+)$", self.skel[:token.start])
            assert call is not None, f"Jenkinsfile line {line}: a ''' string that is not an sh step's script"
            if call.group("args") is not None:
                assert re.match(r"\s*\)", self.skel[token.end:]), f"line {line}: script: must be sh's last argument"
            return_status = bool(re.search(r"\breturnStatus:\s*true\b", call.group("args") or ""))
            steps.append(ShStep(string_value(token), return_status, token.start, line))
        calls = sum(len(re.findall(r"\bsh\b", t.text)) for t in self.tokens if t.kind == "code")
        assert calls == len(steps), "every sh step must take a single-quoted ''' script"
        return steps

    def scan_step(self) -> ShStep:
        (step,) = [s for s in self.sh_steps() if s.return_status]
        return step

    def credential_scopes(self) -> list[tuple[int, int]]:
        """The spans of the withCredentials blocks."""
        scopes = []
        for match in re.finditer(r"\bwithCredentials\s*\(", self.skel):
            arguments_end = closing(self.skel, match.end() - 1)
            brace = re.compile(r"\s*\{").match(self.skel, arguments_end + 1)
            assert brace is not None, f"line {line_of(self.source, match.start())}: withCredentials without a block"
            scopes.append((brace.end(), closing(self.skel, brace.end() - 1)))
        return scopes

    def environment(self) -> dict[str, str]:
        """The pipeline's `environment { NAME = '...' }` values; only single-quoted literals can be emulated."""
        start, end = self.block(r"\benvironment")
        values: dict[str, str] = {}
        for token in self.tokens:
            if token.kind != "'" or not start <= token.start < end:
                continue
            name = re.search(r"^\s*(\w+)\s*=\s*\Z", self.skel[:token.start].rsplit("\n", 1)[-1])
            assert name is not None, f"line {line_of(self.source, token.start)}: not a NAME = '...' assignment"
            values[name.group(1)] = string_value(token)
        code_lines = [line for line in self.skel[start:end].splitlines() if line.strip()]
        assert len(code_lines) == len(values) and all(re.fullmatch(r"\s*\w+\s*=\s*", c) for c in code_lines), (
            "the environment block must hold only NAME = '...' lines (and comments)")
        return values

    def parameters(self) -> dict[str, str]:
        """Each parameter's default, as the environment variable Jenkins sets for it."""
        parameter = r"\b(?:string|booleanParam)\(name:\s*'(\w+)',\s*defaultValue:\s*('(?:[^'\\]|\\.)*'|true|false)"
        found = re.findall(parameter, self.source)
        return {name: default if default in ("true", "false") else string_value(Token("'", 0, 0, default))
                for name, default in found}


def credential_variables(source: str) -> set[str]:
    """The variables the file's withCredentials bindings set."""
    names = r"(?:variable|usernameVariable|passwordVariable|keyFileVariable|passphraseVariable)"
    return set(re.findall(names + r"\s*:\s*'(\w+)'", source))


def credential_leaks(source: str) -> list[str]:
    """Where a credential's variable appears in a double-quoted (interpolating) string or in Groovy code."""
    problems = []
    for token in groovy_tokens(source):
        for name in sorted(credential_variables(source)):
            where = f"line {line_of(source, token.start)}"
            if token.kind in ('"', '"""') and name in token.text:
                problems.append(f"{where}: {name} in a double-quoted Groovy string: {token.text[:60]}")
            elif token.kind == "code" and re.search(rf"\b{name}\b", token.text):
                problems.append(f"{where}: {name} read by Groovy code, where it can be interpolated or printed")
    return problems


# --- The Groovy that sets the build's result ----------------------------------------------------------


@dataclass(frozen=True)
class Branch:
    codes: frozenset[int] | None  # None: the final else
    body: str


def result_branches(jenkinsfile: Jenkinsfile) -> list[Branch]:
    """The if / else if / else chain that is the whole body of applyScanResult(int code, boolean failWithoutVerdict)."""
    skel, source = jenkinsfile.skel, jenkinsfile.source
    start, end = jenkinsfile.block(r"\bvoid applyScanResult\(int code, boolean failWithoutVerdict\)")
    branches: list[Branch] = []
    keyword = re.compile(r"\s*if\s*\(").match(skel, start)
    assert keyword is not None, "applyScanResult must be one if / else if / else chain"
    while keyword is not None:
        codes: frozenset[int] | None = None
        if keyword.group(0).rstrip().endswith("("):  # if (...) or else if (...)
            close = closing(skel, keyword.end() - 1)
            condition = source[keyword.end():close]
            assert re.fullmatch(r"code == \d+(?: \|\| code == \d+)*", condition), f"unexpected condition: {condition}"
            codes = frozenset(int(c) for c in re.findall(r"\d+", condition))
            brace = re.compile(r"\s*\{").match(skel, close + 1)
            assert brace is not None, condition
            body_start = brace.end()
        else:  # else {
            body_start = keyword.end()
        body_end = closing(skel, body_start - 1)
        branches.append(Branch(codes, skel[body_start:body_end]))
        last_end = body_end
        keyword = None if codes is None else re.compile(r"\s*else\s*(?:if\s*\(|\{)").match(skel, body_end + 1)
    assert not skel[last_end + 1:end].strip(), "nothing may follow the chain in applyScanResult"
    return branches


def build_result(branches: list[Branch], code: int, *, fail_without_verdict: bool) -> str:
    """What the Groovy makes of an exit code: FAILURE (error), UNSTABLE (unstable) or SUCCESS (echo only)."""
    branch = next(b for b in branches if b.codes is None or code in b.codes)
    body = branch.body
    guard = re.search(r"\bif\s*\(\s*failWithoutVerdict\s*\)\s*\{", body)
    if guard is not None:
        guard_end = closing(body, guard.end() - 1)
        if fail_without_verdict and re.search(r"\berror\s*\(", body[guard.end():guard_end]):
            return "FAILURE"
        body = body[:guard.start()] + body[guard_end + 1:]
    steps = re.findall(r"\b(error|unstable|echo)\s*\(", body)
    assert steps, f"the branch for exit code {code} calls none of echo, unstable, error"
    decisive = [s for s in steps if s != "echo"]
    return {"error": "FAILURE", "unstable": "UNSTABLE"}[decisive[0]] if decisive else "SUCCESS"


def expected_results() -> dict[str, tuple[str, str]]:
    """docs/jenkins.md's table: exit code -> (result, result with FAIL_WITHOUT_VERDICT)."""
    rows = re.findall(r"^\| (\d+|other) \|[^|\n]*\| (SUCCESS|UNSTABLE|FAILURE) \| (SUCCESS|UNSTABLE|FAILURE) \|$",
                      DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    return {code: (result, strict) for code, result, strict in rows}


# --- Running the sh steps as an agent -----------------------------------------------------------------


@dataclass
class StepRun:
    step: ShStep
    code: int
    stdout: str
    stderr: str


@dataclass
class Build:
    workspace: Path
    runs: list[StepRun]
    result: str

    @property
    def scan(self) -> StepRun:
        (run,) = [r for r in self.runs if r.step.return_status]
        return run

    @property
    def output(self) -> str:
        return "".join(r.stdout + r.stderr for r in self.runs)


def agent_path() -> str:
    """The interpreter's bin directory (where ci-scan is installed) first, so the install step is skipped."""
    return os.pathsep.join([str(Path(ci_scan_command()).parent), os.environ.get("PATH", "")])


def jenkins_env(workspace: Path, console_url: str | None, path: str) -> dict[str, str]:
    """What a Jenkins agent's `sh` sees, before the parameters and the credential binding."""
    dropped = ("CI_", "DEEPFENCE_", "GITHUB_", "GITLAB_", "RUNNER_", "JENKINS_", "BUILD_", "JOB_", "GIT_")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(dropped) and k not in ("CI", "TF_BUILD", "FORCE_COLOR", "NO_COLOR")}
    env.update({
        "PATH": path, "WORKSPACE": str(workspace), "JENKINS_URL": "https://jenkins.example.com/",
        "BUILD_URL": "https://jenkins.example.com/job/team/job/app/job/main/42/",
        "BUILD_NUMBER": "42", "BUILD_ID": "42",
        "JOB_NAME": "team/app/main", "JOB_BASE_NAME": "main", "BUILD_TAG": "jenkins-team-app-main-42",
        "NODE_NAME": "built-in", "GIT_COMMIT": COMMIT, "GIT_BRANCH": "origin/main",
        # Global properties of this Jenkins: the console, and quick polling (the simulator lands findings in one go).
        "CI_SCAN_POLL_INTERVAL": "0.1s", "CI_SCAN_SIMULATOR_POLL_FLOOR": "0.05", "CI_SCAN_SETTLE_TIME": "0.3s",
    })
    if console_url is not None:
        env["DEEPFENCE_CONSOLE_URL"] = console_url
    return env


def run_build(workspace: Path, console_url: str | None, *, params: Mapping[str, str] | None = None,
              env: Mapping[str, str] | None = None, path: str | None = None, token: str = ADMIN_TOKEN) -> Build:
    """Run the Jenkinsfile's sh steps in order, then apply its result mapping to the scan's exit code."""
    jenkinsfile = Jenkinsfile.read()
    workspace.mkdir(parents=True, exist_ok=True)
    scripts = workspace.with_name(workspace.name + "@tmp")
    scripts.mkdir(exist_ok=True)
    parameters = {**jenkinsfile.parameters(), **(params or {})}
    base = {**jenkins_env(workspace, console_url, agent_path() if path is None else path),
            **jenkinsfile.environment(), **parameters, **(env or {})}
    scopes = jenkinsfile.credential_scopes()
    runs: list[StepRun] = []
    for number, step in enumerate(jenkinsfile.sh_steps()):
        step_env = dict(base)
        if any(start <= step.start < end for start, end in scopes):
            step_env["DEEPFENCE_API_TOKEN"] = token  # what the Credentials Binding plugin sets, inside its block
        script = scripts / f"script-{number}.sh"
        script.write_text(step.script, encoding="utf-8")
        done = subprocess.run([shutil.which("bash") or "/bin/bash", "-xe", str(script)], cwd=workspace, env=step_env,
                              capture_output=True, text=True, timeout=180, check=False)
        runs.append(StepRun(step, done.returncode, done.stdout, done.stderr))
        if done.returncode != 0 and not step.return_status:
            return Build(workspace, runs, "FAILURE")  # a failing sh step fails the build there
    code = next(r.code for r in runs if r.step.return_status)
    fail_without_verdict = parameters.get("FAIL_WITHOUT_VERDICT") == "true"
    return Build(workspace, runs, build_result(result_branches(jenkinsfile), code,
                                               fail_without_verdict=fail_without_verdict))


def assert_no_token(build: Build) -> None:
    assert ADMIN_TOKEN not in build.output
    for written in build.workspace.rglob("*"):
        if written.is_file():
            assert ADMIN_TOKEN not in written.read_text(errors="replace"), written


def read_reports(workspace: Path) -> tuple[ET.Element, dict[str, Any], dict[str, Any]]:
    """The JUnit, SARIF and JSON reports, parsed; every report the pipeline records must exist."""
    for name in REPORTS:
        assert (workspace / name).is_file(), f"{name} was not written"
    assert (workspace / "ci-scan.md").read_text(encoding="utf-8").startswith("## ")
    junit = ET.parse(workspace / "ci-scan.junit.xml").getroot()
    sarif: dict[str, Any] = json.loads((workspace / "ci-scan.sarif").read_text(encoding="utf-8"))
    report: dict[str, Any] = json.loads((workspace / "ci-scan.json").read_text(encoding="utf-8"))
    assert junit.tag == "testsuites" and sarif["version"] == "2.1.0"
    return junit, sarif, report


def validate_reports(workspace: Path) -> None:
    """Against the JUnit schema Jenkins' xunit plugin uses, and SARIF's (skips without ../shared, off CI)."""
    xmlschema.XMLSchema(str(shared_path("schemas", "junit-10.xunit-plugin.xsd"))).validate(
        str(workspace / "ci-scan.junit.xml"))
    schema = json.loads(shared_path("schemas", "sarif-schema-2.1.0.oasis.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(json.loads((workspace / "ci-scan.sarif").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def console() -> Iterator[Simulator]:
    with running_simulator() as sim:
        yield sim


# --- The pipeline, end to end -------------------------------------------------------------------------


def test_a_passing_image_succeeds_and_records_every_report(console: Simulator, tmp_path: Path) -> None:
    image = f"{REG}/app:1.4.1"
    build = run_build(tmp_path / "workspace", console.url, params={"IMAGE": image, "CI_SCAN_FAIL_ON": "high"})
    install = build.runs[0]
    assert install.code == 0, build.output
    assert f"ci-scan is already installed: {Path(ci_scan_command()).parent}/ci-scan" in install.stdout
    assert not (build.workspace / ".ci-scan-venv").exists()
    assert build.scan.code == 0, build.output
    assert "Gate PASSED" in build.scan.stdout
    assert build.result == "SUCCESS"
    junit, sarif, report = read_reports(build.workspace)
    assert report["gate"]["exit_code"] == 0 and report["gate"]["fail_on"] == "high"
    (target,) = report["targets"]
    assert target["target"]["name"] == image
    (suite,) = junit.iter("testsuite")
    gate, *findings = suite.iter("testcase")
    assert (gate.get("name"), gate.get("classname")) == ("policy gate: fail on high", f"ci-scan.{image}")
    assert gate.find("failure") is None and gate.find("error") is None
    assert len(findings) == len(target["findings"]) and all(c.find("failure") is None for c in findings)
    assert all((c.get("classname") or "").startswith(f"{image} / ") for c in findings)
    masked = [f for f in target["findings"] if f["masked"]]
    assert masked and len([c for c in findings if c.find("skipped") is not None]) >= len(masked)
    assert sum(len(run["results"]) for run in sarif["runs"]) == len(target["findings"])
    assert_no_token(build)
    validate_reports(build.workspace)


def test_a_failing_image_fails_the_build_with_a_failure_per_finding(console: Simulator, tmp_path: Path) -> None:
    image = f"{REG}/app:1.4.2"
    build = run_build(tmp_path / "workspace", console.url, params={"IMAGE": image})  # CI_SCAN_FAIL_ON left empty
    assert build.scan.code == 1, build.output
    assert "Gate FAILED (--fail-on critical)" in build.scan.stdout
    assert build.result == "FAILURE"
    junit, sarif, report = read_reports(build.workspace)
    assert report["gate"]["exit_code"] == 1 and report["gate"]["fail_on"] == "critical"
    failing = report["gate"]["failing"]
    assert failing == report["counts"]["critical"] > 0
    gate = next(junit.iter("testcase"))
    assert (gate.get("name"), gate.get("classname")) == ("policy gate: fail on critical", f"ci-scan.{image}")
    failure = gate.find("failure")
    assert failure is not None and failure.get("type") == "PolicyGateFailed"
    failed = [c for c in junit.iter("testcase") if c.find("failure") is not None]
    assert len(failed) == failing + 1
    assert all(re.fullmatch(r"CVE-\d+-\d+ \S+@\S+( \(.+\))?", c.get("name") or "") for c in failed[1:])
    assert sum(r["level"] == "error" for run in sarif["runs"] for r in run["results"]) == failing
    assert_no_token(build)
    validate_reports(build.workspace)


def test_a_console_that_is_down_marks_the_build_unstable(console: Simulator, tmp_path: Path) -> None:
    build = run_build(tmp_path / "workspace", f"http://127.0.0.1:{free_port()}", params={"IMAGE": f"{REG}/app:1.4.2"})
    assert build.scan.code == 3, build.output
    assert "cannot reach the console" in build.scan.stderr
    assert build.result == "UNSTABLE"
    junit, sarif, report = read_reports(build.workspace)
    assert report["gate"]["exit_code"] == 3 and "cannot reach the console" in report["error"]
    (error,) = junit.iter("error")
    assert error.get("type") == "ScanIncomplete" and "cannot reach the console" in (error.get("message") or "")
    assert [r for run in sarif["runs"] for r in run["results"]] == []
    assert_no_token(build)
    validate_reports(build.workspace)


def test_a_timed_out_scan_is_unstable_unless_the_team_chose_to_fail(console: Simulator, tmp_path: Path) -> None:
    params = {"IMAGE": f"{REG}/stuck:1.0"}
    quick = {"CI_SCAN_TIMEOUT": "2s"}  # as a team would edit the pipeline's environment
    build = run_build(tmp_path / "unstable", console.url, params=params, env=quick)
    assert build.scan.code == 4, build.output
    assert build.result == "UNSTABLE"
    junit, _, _ = read_reports(build.workspace)
    assert [e.get("type") for e in junit.iter("error")] == ["ScanTimedOut"]
    strict = run_build(tmp_path / "strict", console.url, params={**params, "FAIL_WITHOUT_VERDICT": "true"}, env=quick)
    assert strict.scan.code == 4, strict.output
    assert strict.result == "FAILURE"


def test_the_default_image_is_the_job_image_at_the_commit(console: Simulator, tmp_path: Path) -> None:
    build = run_build(tmp_path / "workspace", console.url)  # IMAGE left empty
    image = f"{Jenkinsfile.read().environment()['IMAGE_NAME']}:{COMMIT}"
    assert build.scan.code == 3, build.output  # the simulator's registry has no such tag
    assert f"CI_SCAN_IMAGE={image}" in build.scan.stderr  # sh -x shows what the step exported
    _, _, report = read_reports(build.workspace)
    assert report["error"].startswith(f"{image} is not on the console")
    assert build.result == "UNSTABLE"


@pytest.mark.parametrize(
    ("console_url_set", "params", "env", "needle"),
    [
        (False, {"IMAGE": f"{REG}/app:1.4.1"}, {}, "no console URL"),
        (True, {}, {"GIT_COMMIT": ""}, "No image to scan: set the IMAGE parameter"),
        (True, {"IMAGE": f"{REG}/app:1.4.1", "CI_SCAN_FAIL_ON": "severe"}, {}, "--fail-on"),
    ],
)
def test_configuration_errors_fail_the_build(tmp_path: Path, console_url_set: bool, params: dict[str, str],
                                             env: dict[str, str], needle: str) -> None:
    url = f"http://127.0.0.1:{free_port()}" if console_url_set else None  # never reached: the step stops first
    build = run_build(tmp_path / "workspace", url, params=params, env=env)
    assert build.scan.code == 2, build.output
    assert needle in build.scan.stderr
    assert build.result == "FAILURE"


def test_without_ci_scan_on_the_agent_the_pinned_package_is_installed(console: Simulator, tmp_path: Path) -> None:
    """python3 is a stand-in here: its venv's pip records what it was asked to install and links the real ci-scan."""
    stubs, log = tmp_path / "stubs", tmp_path / "pip-arguments.json"
    stubs.mkdir()
    pip = (f"#!{sys.executable}\nimport json, os, sys\n"
           f"json.dump(sys.argv[1:], open({str(log)!r}, 'w'))\n"
           "link = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), 'ci-scan')\n"
           f"os.symlink({ci_scan_command()!r}, link)\n")
    python3 = (f"#!{sys.executable}\nimport os, sys\n"
               "assert sys.argv[1:3] == ['-m', 'venv'] and len(sys.argv) == 4, sys.argv\n"
               "os.makedirs(os.path.join(sys.argv[3], 'bin'))\n"
               "pip = os.path.join(sys.argv[3], 'bin', 'pip')\n"
               f"open(pip, 'w').write({pip!r})\n"
               "os.chmod(pip, 0o755)\n")
    (stubs / "python3").write_text(python3, encoding="utf-8")
    (stubs / "python3").chmod(stat.S_IRWXU)
    system = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "ci-scan").exists()]
    build = run_build(tmp_path / "workspace", console.url, path=os.pathsep.join([str(stubs), *system]),
                      params={"IMAGE": f"{REG}/app:1.4.1", "CI_SCAN_FAIL_ON": "high"})
    assert build.runs[0].code == 0, build.output
    package = Jenkinsfile.read().environment()["CI_SCAN_PACKAGE"]
    arguments = json.loads(log.read_text(encoding="utf-8"))
    assert arguments[0] == "install" and arguments[-1] == package  # one argument, however many spaces it has
    assert (build.workspace / ".ci-scan-venv" / "bin" / "ci-scan").is_symlink()
    assert "ci-scan, version" in build.runs[0].stdout
    assert build.scan.code == 0, build.output
    assert "Gate PASSED" in build.scan.stdout and build.result == "SUCCESS"


# --- The Groovy ----------------------------------------------------------------------------------------


def test_every_exit_code_sets_the_documented_result() -> None:
    branches = result_branches(Jenkinsfile.read())
    documented = expected_results()
    assert set(documented) == {"0", "1", "2", "3", "4", "other"}
    assert documented == {"0": ("SUCCESS", "SUCCESS"), "1": ("FAILURE", "FAILURE"), "2": ("FAILURE", "FAILURE"),
                          "3": ("UNSTABLE", "FAILURE"), "4": ("UNSTABLE", "FAILURE"), "other": ("FAILURE", "FAILURE")}
    for code, (result, strict) in documented.items():
        for number in ([int(code)] if code.isdigit() else [5, 127, 143, -1]):
            assert build_result(branches, number, fail_without_verdict=False) == result, number
            assert build_result(branches, number, fail_without_verdict=True) == strict, number


def test_the_result_is_set_from_the_scan_step_after_the_reports_are_recorded() -> None:
    jenkinsfile = Jenkinsfile.read()
    skel, source = jenkinsfile.skel, jenkinsfile.source
    scan = jenkinsfile.scan_step()
    assert re.search(r"scanExitCode = sh\(returnStatus: true, [^()]*script: $", skel[:scan.start])
    assert "ci-scan scan image" in scan.script
    for option, name in zip(("--junit", "--sarif", "--json", "--markdown"), REPORTS, strict=True):
        assert f"{option} {name}" in scan.script
    stage_start, stage_end = jenkinsfile.block(r"stage\('Scan image'\)")
    assert stage_start < scan.start < stage_end
    always = jenkinsfile.block(r"\bpost\s*\{\s*always", stage_start, stage_end)
    recorded = source[always[0]:always[1]]
    assert re.search(r"\bjunit\(testResults: 'ci-scan\.junit\.xml'", recorded)
    assert "recordIssues(tool: sarif(pattern: 'ci-scan.sarif'" in recorded
    archived = re.search(r"archiveArtifacts\(artifacts: '([^']+)'", recorded)
    assert archived is not None and [a.strip() for a in archived.group(1).split(",")] == list(REPORTS)
    gate_start, gate_end = jenkinsfile.block(r"stage\('Gate'\)")
    assert gate_start > stage_end
    assert "applyScanResult(scanExitCode, params.FAIL_WITHOUT_VERDICT == true)" in source[gate_start:gate_end]
    assert re.search(r"booleanParam\(name: 'FAIL_WITHOUT_VERDICT', defaultValue: false,", source)


def test_the_install_step_is_pinned_and_skipped_when_ci_scan_is_on_the_path() -> None:
    jenkinsfile = Jenkinsfile.read()
    install, scan = jenkinsfile.sh_steps()
    assert not install.return_status and scan.return_status
    assert 'python3 -m venv .ci-scan-venv\n' in install.script
    assert '.ci-scan-venv/bin/pip install --quiet --disable-pip-version-check "$CI_SCAN_PACKAGE"' in install.script
    assert install.script.lstrip().startswith("if command -v ci-scan >/dev/null 2>&1; then")
    package = jenkinsfile.environment()["CI_SCAN_PACKAGE"]
    assert re.fullmatch(r"ci-scan @ git\+https://\S+@v\d+\.\d+\.\d+", package), package


def test_the_token_is_bound_only_around_the_scan() -> None:
    jenkinsfile = Jenkinsfile.read()
    assert BINDING in jenkinsfile.source
    (scope,) = jenkinsfile.credential_scopes()
    inside = [s for s in jenkinsfile.sh_steps() if scope[0] <= s.start < scope[1]]
    assert inside == [jenkinsfile.scan_step()]


def test_no_credential_goes_into_a_double_quoted_groovy_string() -> None:
    source = JENKINSFILE.read_text(encoding="utf-8")
    assert "DEEPFENCE_API_TOKEN" in credential_variables(source)
    assert credential_leaks(source) == []
    assert not [t for t in groovy_tokens(source) if t.kind == '"""'], "no GString blocks: use ''' for sh scripts"
    # The check itself finds each way a token gets interpolated.
    binding = BINDING + " {\n"
    assert credential_leaks(binding + 'sh "ci-scan scan image --api-token $DEEPFENCE_API_TOKEN"\n}')
    assert credential_leaks(binding + 'sh """\n  echo ${env.DEEPFENCE_API_TOKEN}\n"""\n}')
    assert credential_leaks(binding + "echo(env.DEEPFENCE_API_TOKEN)\n}")
    pairs = "withCredentials([usernamePassword(credentialsId: 'x', usernameVariable: 'U', passwordVariable: 'P')]) {\n"
    assert credential_leaks(pairs + 'sh "curl -u $U:${P} https://example.com"\n}') != []
    assert credential_leaks(binding + "sh 'ci-scan scan image \"$IMAGE\" # reads $DEEPFENCE_API_TOKEN'\n}") == []
