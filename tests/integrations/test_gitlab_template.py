"""The GitLab CI template and its examples: valid GitLab CI, a variable for each ci-scan option, and a job that
runs as a GitLab runner would run it, against the console simulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_scan import cli, options
from ci_scan.errors import ExitCode
from ci_scan.formats import REPORT_NAMES, REPORTS, report
from ci_scan.simulator import ADMIN_TOKEN
from tests.conftest import ROOT, shared_path
from tests.e2e.conftest import Simulator, ci_scan_command, free_port, running_simulator

pytestmark = pytest.mark.e2e

TEMPLATE = ROOT / ".gitlab-ci-template.yml"
MERGE_REQUEST_EXAMPLE = ROOT / "examples" / "gitlab" / "merge-request-gate.yml"
SCHEDULED_EXAMPLE = ROOT / "examples" / "gitlab" / "scheduled-registry-scan.yml"
DOCS = ROOT / "docs" / "gitlab.md"
JOB = ".ci-scan"
DEFAULT_IMAGE = "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"
TEMPLATE_OWN = {"CI_SCAN_PACKAGE", "CI_SCAN_REGISTRY_SCAN"}
"""The template's own variables: read by its script, not by ci-scan."""
READ_BY_SCAN_IMAGE = {"CI_SCAN_IMAGE"}
"""Read by `ci-scan scan image` itself when it has no IMAGE_REF arguments (not an option)."""
OPTION_VARIABLES = {option.envvars[0]: option for option in options.EVERY_OPTION}
TOKEN_VARIABLES = set(next(o for o in options.EVERY_OPTION if o.field == "api_token").envvars)
REPORT_VARIABLES = {f"CI_SCAN_{name.upper()}" for name in REPORT_NAMES}
REG = "registry.example.com/team"
COMMIT_SHA = "0123456789abcdef0123456789abcdef01234567"
NOT_INSTALLED = "ci-scan: error: ci-scan is not installed in this image: set the CI/CD variable CI_SCAN_PACKAGE"


def load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), path
    return loaded


def template_job() -> dict[str, Any]:
    job = load(TEMPLATE)[JOB]
    assert isinstance(job, dict)
    return job


def template_variables() -> dict[str, Any]:
    variables = template_job()["variables"]
    assert isinstance(variables, dict)
    return variables


def shell_lines(job: Mapping[str, Any]) -> list[str]:
    lines = [*job["before_script"], *job["script"]]
    assert all(isinstance(line, str) for line in lines)
    return lines


def artifact_files(job: Mapping[str, Any]) -> set[str]:
    artifacts = job["artifacts"]
    return {*artifacts["paths"], *artifacts["reports"].values()}


# --- The files are valid GitLab CI ---------------------------------------------------------------------------


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the flags of its own gitlab-ci hook, on the schema copy in ../shared."""
    schema = shared_path("schemas", "gitlab-ci.check-jsonschema-vendor.json")
    command = Path(sys.executable).with_name("check-jsonschema")
    assert command.exists(), f"{command} is missing: install the test tools (pip install -e '.[test]')"
    return subprocess.run([str(command), "--schemafile", str(schema), "--data-transform", "gitlab-ci",
                           "--regex-variant", "nonunicode", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)


def visible_copy(text: str, tmp_path: Path) -> Path:
    """The template with `.ci-scan` renamed `ci-scan`: the schema takes any hidden key (`^[.]`) as an arbitrary
    YAML anchor, so only a visible job gets its keys checked."""
    assert text.count(f"\n{JOB}:\n") == 1
    copy = tmp_path / "visible.gitlab-ci.yml"
    copy.write_text(text.replace(f"\n{JOB}:\n", f"\n{JOB[1:]}:\n"), encoding="utf-8")
    assert JOB[1:] in load(copy)
    return copy


@pytest.mark.parametrize("path", [TEMPLATE, MERGE_REQUEST_EXAMPLE, SCHEDULED_EXAMPLE], ids=lambda p: p.name)
def test_the_file_is_valid_gitlab_ci(path: Path) -> None:
    done = check_jsonschema(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_the_template_job_is_a_valid_job(tmp_path: Path) -> None:
    done = check_jsonschema(visible_copy(TEMPLATE.read_text(encoding="utf-8"), tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_rejects_a_broken_job(tmp_path: Path) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "    when: always\n" in text
    done = check_jsonschema(visible_copy(text.replace("    when: always\n", "    when: sometimes\n"), tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "sometimes" in done.stdout + done.stderr


# --- Variables --------------------------------------------------------------------------------------------------


def test_every_variable_is_a_ci_scan_variable() -> None:
    defined = set(template_variables())
    assert all(name.startswith("CI_SCAN_") for name in defined), sorted(defined)
    unknown = defined - OPTION_VARIABLES.keys() - TEMPLATE_OWN - READ_BY_SCAN_IMAGE
    assert not unknown, f"not a ci-scan option's variable: {sorted(unknown)}"
    every_envvar = {name for option in options.EVERY_OPTION for name in option.envvars}
    assert not (TEMPLATE_OWN | READ_BY_SCAN_IMAGE) & every_envvar, "the template's own names must not be options'"
    assert TEMPLATE_OWN <= defined


def test_every_main_option_has_a_variable() -> None:
    defined = set(template_variables())
    main = {option.envvars[0] for option in (*cli.IMAGE_OPTIONS, *cli.REGISTRY_OPTIONS)
            if option.field != "api_token" and option.field not in REPORT_NAMES}
    assert len(main) > 40  # every option of scan image and scan registry
    missing = main - defined
    assert not missing, f"options with no variable in the template: {sorted(missing)}"
    assert READ_BY_SCAN_IMAGE <= defined
    assert not REPORT_VARIABLES & defined, "report paths are fixed by the script, so that they match artifacts:"


def test_the_token_is_never_defined() -> None:
    assert TOKEN_VARIABLES == {"CI_SCAN_API_TOKEN", "DEEPFENCE_API_TOKEN"}
    assert not TOKEN_VARIABLES & set(template_variables())
    for path in (TEMPLATE, MERGE_REQUEST_EXAMPLE, SCHEDULED_EXAMPLE):
        for name, job in load(path).items():
            if isinstance(job, dict) and isinstance(job.get("variables"), dict):
                assert not TOKEN_VARIABLES & set(job["variables"]), f"{path.name}: {name} defines the token"
    assert "--api-token" not in "\n".join(shell_lines(template_job()))


def test_every_variable_defaults_to_empty_but_the_image() -> None:
    variables = template_variables()
    assert variables.pop("CI_SCAN_IMAGE") == DEFAULT_IMAGE
    assert variables and {name: value for name, value in variables.items() if value != ""} == {}


def test_every_variable_has_a_comment() -> None:
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines()
    start = lines.index("  variables:")
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^  \S", lines[i]))
    seen = []
    for index in range(start + 1, end):
        found = re.match(r"^    (\w+):", lines[index])
        if found:
            seen.append(found.group(1))
            previous = next(line for line in reversed(lines[start + 1:index]) if line.strip())
            assert previous.startswith("    # "), f"{found.group(1)} has no comment above it"
    assert set(seen) == set(template_variables())


def test_the_docs_describe_every_variable_and_the_allow_failure_override() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = [name for name in template_variables() if f"| `{name}` |" not in docs]
    assert not missing, f"docs/gitlab.md has no row for {missing}"
    for needle in ("remote:", "project:", "local:", "allow_failure: false", "exit_codes: [4]", "!reference",
                   "Vulnerability report", "Dependency list", "security widget", "Tests"):
        assert needle in docs, needle


# --- Script, reports and allow_failure ---------------------------------------------------------------------------


def unquoted_expansions(script: str) -> list[str]:
    """Each `$...` of `script` outside double quotes (where the shell would split it and expand globs)."""
    found = []
    quote = ""
    index = 0
    while index < len(script):
        char = script[index]
        if char == "\\" and quote != "'":
            index += 2
            continue
        if quote == "" and char in "'\"":
            quote = char
        elif char == quote:
            quote = ""
        elif char == "$" and quote == "":
            expansion = re.match(r"\$(\{\w+\}|\w+|\()?", script[index:])
            assert expansion is not None
            found.append(expansion.group(0))
        index += 1
    return found


def test_the_quote_check_sees_an_unquoted_variable() -> None:
    assert unquoted_expansions('echo "$A" \'$B\' $C "\\"$D" $(true) ${E}') == ["$C", "$(", "${E}"]


def test_the_script_quotes_every_expansion_and_evaluates_nothing() -> None:
    for line in shell_lines(template_job()):
        assert unquoted_expansions(line) == [], line
        assert not re.search(r"\beval\b|\bsh -c\b|\bbash -c\b", line), line
    assert "$CI_SCAN_IMAGE" not in "\n".join(shell_lines(template_job())), "ci-scan reads CI_SCAN_IMAGE itself"


def test_the_script_writes_each_report_the_artifacts_take() -> None:
    job = template_job()
    script = "\n".join(job["script"])
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always", "reports must be kept when the gate fails"
    assert artifacts["reports"] == {"junit": report("junit").default_filename,
                                    "container_scanning": report("gitlab_report").default_filename,
                                    "cyclonedx": report("sbom").default_filename}
    assert artifacts["paths"] == [report(name).default_filename for name in ("sarif", "json", "markdown")]
    assert artifact_files(job) == {spec.default_filename for spec in REPORTS}
    for spec in REPORTS:
        flag = "--" + spec.name.replace("_", "-")
        assert f'{flag} "$ci_scan_reports/{spec.default_filename}"' in script, flag


def test_allow_failure_softens_only_incomplete_scans_and_timeouts() -> None:
    assert template_job()["allow_failure"] == {"exit_codes": [ExitCode.SCAN_INCOMPLETE, ExitCode.TIMED_OUT]}
    text = TEMPLATE.read_text(encoding="utf-8")
    assert "allow_failure: false" in text and "exit_codes: [4]" in text  # the override, in its comments


# --- The examples ------------------------------------------------------------------------------------------------


def jobs_extending_the_template(path: Path) -> dict[str, dict[str, Any]]:
    pipeline = load(path)
    includes = pipeline["include"]
    assert any(str(item.get("file", item.get("remote", item.get("local", "")))).endswith(TEMPLATE.name)
               for item in includes), f"{path.name} does not include {TEMPLATE.name}"
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and job.get("extends") == JOB}
    assert jobs, f"{path.name} has no job extending {JOB}"
    known = set(template_variables())
    for name, job in jobs.items():
        unknown = set(job.get("variables", {})) - known
        assert not {v for v in unknown if v.startswith("CI_SCAN_")}, f"{path.name}: {name} sets {unknown}"
    return jobs


def test_the_merge_request_example_gates_the_image_built_earlier() -> None:
    pipeline = load(MERGE_REQUEST_EXAMPLE)
    (gate,) = jobs_extending_the_template(MERGE_REQUEST_EXAMPLE).values()
    assert "CI_SCAN_IMAGE" not in gate["variables"]  # the template's default: the image this commit pushed
    (needed,) = gate["needs"]
    build = pipeline[needed["job"]]
    assert f'docker push "{DEFAULT_IMAGE}"' in build["script"]
    stages = pipeline["stages"]
    assert stages.index(build["stage"]) < stages.index(gate["stage"])
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in pipeline["workflow"]["rules"]


def test_the_scheduled_example_scans_a_registry_on_schedules_only() -> None:
    (job,) = jobs_extending_the_template(SCHEDULED_EXAMPLE).values()
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert job["variables"]["CI_SCAN_REGISTRY_SCAN"]
    assert job["variables"]["CI_SCAN_TAGS"] in ("latest", "recent", "all")
    assert job["allow_failure"] is False


# --- The job, run as a GitLab runner runs it ---------------------------------------------------------------------


@dataclass
class Job:
    code: int
    stdout: str
    stderr: str
    project_dir: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def report(self) -> dict[str, Any]:
        loaded = json.loads((self.project_dir / report("json").default_filename).read_text(encoding="utf-8"))
        assert isinstance(loaded, dict)
        return loaded

    def assert_every_artifact_exists(self) -> None:
        missing = [name for name in sorted(artifact_files(template_job()))
                   if not (self.project_dir / name).is_file() or (self.project_dir / name).stat().st_size == 0]
        assert not missing, f"reports not written: {missing}\n{self.output}"


def expand(value: str, environ: Mapping[str, str]) -> str:
    """GitLab's expansion of `$NAME`, `${NAME}` and `$$` in a variable's value (an unknown name is empty)."""
    def one(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        return environ.get(name, "") if name else "$"
    return re.sub(r"\$\{(\w+)\}|\$(\w+)|\$\$", one, value)


def path_without_ci_scan() -> list[str]:
    return [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
            if d and not (Path(d) / "ci-scan").exists()]


def run_job(tmp_path: Path, console_url: str, job_variables: Mapping[str, str] | None = None,
            path: list[str] | None = None, extra_env: Mapping[str, str] | None = None) -> Job:
    """The template's before_script and script in one bash, with `set -eo pipefail` as the runner sets it.

    The environment is GitLab's: predefined variables, then the job's variables (the template's, merged with
    `job_variables` as `extends:` merges them, each expanded), then the project's CI/CD variables, which win.
    """
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    (tmp_path / "tmp").mkdir()
    bin_dir = str(Path(ci_scan_command()).parent)
    environ = {
        "PATH": os.pathsep.join(path if path is not None else [bin_dir, *path_without_ci_scan()]),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path / "tmp"),
        # GitLab's predefined variables
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(project_dir),
        "CI_REGISTRY_IMAGE": f"{REG}/app",
        "CI_COMMIT_SHA": COMMIT_SHA,
        "CI_PIPELINE_SOURCE": "merge_request_event",
    }
    for name, value in {**template_variables(), **(job_variables or {})}.items():
        environ[name] = expand(str(value), environ)
    environ.update({  # the project's CI/CD variables
        "DEEPFENCE_API_TOKEN": ADMIN_TOKEN,
        "CI_SCAN_CONSOLE_URL": console_url,
        "CI_SCAN_POLL_INTERVAL": "0.1s", "CI_SCAN_SIMULATOR_POLL_FLOOR": "0.05",
        "CI_SCAN_SETTLE_TIME": "0.3s",  # the simulator lands findings in one go
    })
    environ.update(extra_env or {})
    script = "\n".join(["set -eo pipefail", *shell_lines(template_job())]) + "\n"
    done = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=project_dir, env=environ,
                          capture_output=True, text=True, timeout=180, check=False)
    return Job(done.returncode, done.stdout, done.stderr, project_dir)


@pytest.fixture(scope="module")
def console() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        yield simulator


def test_a_passing_image_exits_0_with_every_report(console: Simulator, tmp_path: Path) -> None:
    job = run_job(tmp_path, console.url, {"CI_SCAN_IMAGE": f"{REG}/app:1.4.1", "CI_SCAN_FAIL_ON": "high"})
    assert job.code == ExitCode.PASSED, job.output
    assert "Using the installed ci-scan" in job.stdout
    assert "Gate PASSED (--fail-on high)" in job.stdout
    job.assert_every_artifact_exists()
    result = job.report()
    assert result["gate"]["passed"] is True
    assert [t["target"]["name"] for t in result["targets"]] == [f"{REG}/app:1.4.1"]
    assert ADMIN_TOKEN not in job.output


def test_a_failing_image_exits_1_and_still_writes_every_report(console: Simulator, tmp_path: Path) -> None:
    job = run_job(tmp_path, console.url, {"CI_SCAN_IMAGE": f"{REG}/app:1.4.2"})
    assert job.code == ExitCode.GATE_FAILED, job.output
    assert job.code not in template_job()["allow_failure"]["exit_codes"]
    job.assert_every_artifact_exists()
    assert job.report()["gate"]["verdict"] == "failed"
    junit = ET.parse(job.project_dir / "ci-scan.junit.xml").getroot()
    assert any(case.find("failure") is not None for case in junit.iter("testcase"))
    gitlab = json.loads((job.project_dir / "gl-container-scanning-report.json").read_text(encoding="utf-8"))
    assert any(v["severity"] == "Critical" for v in gitlab["vulnerabilities"])


def test_a_console_that_is_down_exits_3_and_still_writes_every_report(tmp_path: Path) -> None:
    job = run_job(tmp_path, f"http://127.0.0.1:{free_port()}", {"CI_SCAN_IMAGE": f"{REG}/app:1.4.1"})
    assert job.code == ExitCode.SCAN_INCOMPLETE, job.output
    assert job.code in template_job()["allow_failure"]["exit_codes"]
    assert "ci-scan: error: cannot reach the console" in job.stderr
    job.assert_every_artifact_exists()
    assert job.report()["gate"]["passed"] is False


def test_a_scan_that_outlasts_the_timeout_exits_4(console: Simulator, tmp_path: Path) -> None:
    job = run_job(tmp_path, console.url, {"CI_SCAN_IMAGE": f"{REG}/stuck:1.0", "CI_SCAN_TIMEOUT": "2s"})
    assert job.code == ExitCode.TIMED_OUT, job.output
    assert job.code in template_job()["allow_failure"]["exit_codes"]
    job.assert_every_artifact_exists()


def test_the_default_image_is_the_commits_image(console: Simulator, tmp_path: Path) -> None:
    job = run_job(tmp_path, console.url)
    assert job.code == ExitCode.SCAN_INCOMPLETE, job.output  # the simulator has no such tag
    assert f"{REG}/app:{COMMIT_SHA} is not on the console" in job.stderr
    job.assert_every_artifact_exists()


def test_several_images_one_a_line(console: Simulator, tmp_path: Path) -> None:
    images = f"{REG}/app:1.4.1\n{REG}/clean:1.0\n"
    job = run_job(tmp_path, console.url, {"CI_SCAN_IMAGE": images, "CI_SCAN_FAIL_ON": "high"})
    assert job.code == ExitCode.PASSED, job.output
    names = sorted(t["target"]["name"] for t in job.report()["targets"])
    assert names == [f"{REG}/app:1.4.1", f"{REG}/clean:1.0"]


def test_a_registry_scan(console: Simulator, tmp_path: Path) -> None:
    job = run_job(tmp_path, console.url, {"CI_SCAN_REGISTRY_SCAN": "example-registry", "CI_SCAN_TAGS": "recent",
                                          "CI_SCAN_REPOSITORY": "team/clean team/app", "CI_SCAN_FAIL_ON": "high"})
    assert job.code == ExitCode.GATE_FAILED, job.output  # team/app's last pushed tag is 1.4.2
    names = sorted(t["target"]["name"] for t in job.report()["targets"])
    assert names == [f"{REG}/app:latest", f"{REG}/clean:1.0"]  # 1.4.2, as the console names it
    verdicts = {t["target"]["name"]: t["verdict"] for t in job.report()["targets"]}
    assert verdicts == {f"{REG}/app:latest": "failed", f"{REG}/clean:1.0": "passed"}
    job.assert_every_artifact_exists()


@pytest.mark.parametrize(("variables", "code", "error"), [
    ({"CI_SCAN_IMAGE": f"{REG}/app:1.4.1 $(touch pwned) `touch pwned` ;touch pwned"}, ExitCode.USAGE,
     "$(touch"),
    ({"CI_SCAN_REGISTRY_SCAN": 'x"; touch pwned; echo "'}, ExitCode.SCAN_INCOMPLETE, "touch pwned"),
    ({"CI_SCAN_REGISTRY_SCAN": "--help"}, ExitCode.SCAN_INCOMPLETE, "--help"),
], ids=["image", "registry", "registry-option"])
def test_variables_cannot_inject_commands_or_options(console: Simulator, tmp_path: Path, variables: dict[str, str],
                                                     code: ExitCode, error: str) -> None:
    job = run_job(tmp_path, console.url, variables)
    assert job.code == code, job.output  # ci-scan took the value as data, and refused it
    (line,) = [line for line in job.stderr.splitlines() if line.startswith("ci-scan: error:")]
    assert error in line, line
    assert "Usage:" not in job.output
    assert not (job.project_dir / "pwned").exists()


def test_without_ci_scan_and_without_a_package_the_job_says_to_set_it(tmp_path: Path) -> None:
    assert path_without_ci_scan() and not any((Path(d) / "ci-scan").exists() for d in path_without_ci_scan())
    job = run_job(tmp_path, "http://127.0.0.1:1", {"CI_SCAN_IMAGE": f"{REG}/app:1.4.1"}, path=path_without_ci_scan())
    assert job.code == ExitCode.USAGE, job.output
    assert job.stdout == ""
    (line,) = job.stderr.splitlines()
    assert line.startswith(NOT_INSTALLED), line
    assert not (tmp_path / "tmp" / "ci-scan-venv").exists()


FAKE_PYTHON3 = """#!/usr/bin/env bash
# A stand-in for `python3 -m venv DIR`: DIR/bin/python logs its arguments (the pip install) and links ci-scan.
set -e
[ "$1" = -m ] && [ "$2" = venv ] || exit 97
mkdir -p "$3/bin"
cat > "$3/bin/python" <<'EOF'
#!/usr/bin/env bash
printf '%s\\n' "$@" > "$PIP_ARGUMENTS"
[ "${FAKE_PIP_EXIT:-0}" = 0 ] || exit "$FAKE_PIP_EXIT"
ln -s "$REAL_CI_SCAN" "$(dirname "$0")/ci-scan"
EOF
chmod +x "$3/bin/python"
"""


@pytest.mark.parametrize("pip_exit", [0, 1])
def test_the_job_installs_ci_scan_package_as_one_argument(console: Simulator, tmp_path: Path, pip_exit: int) -> None:
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "python3").write_text(FAKE_PYTHON3, encoding="utf-8")
    (fake_bin / "python3").chmod(0o755)
    package = "ci-scan @ git+https://gitlab.example.com/security/ci-scan.git@v0.1.0; touch pwned"
    arguments = tmp_path / "pip-arguments"
    job = run_job(tmp_path, console.url,
                  {"CI_SCAN_IMAGE": f"{REG}/app:1.4.1", "CI_SCAN_FAIL_ON": "high", "CI_SCAN_PACKAGE": package},
                  path=[str(fake_bin), *path_without_ci_scan()],
                  extra_env={"PIP_ARGUMENTS": str(arguments), "REAL_CI_SCAN": ci_scan_command(),
                             "FAKE_PIP_EXIT": str(pip_exit)})
    logged = arguments.read_text(encoding="utf-8").splitlines()
    assert logged[:3] == ["-m", "pip", "install"] and logged[-1] == package, logged
    assert not (job.project_dir / "pwned").exists()
    if pip_exit:
        assert job.code == ExitCode.USAGE, job.output
        assert job.stderr.splitlines()[-1] == ("ci-scan: error: could not install ci-scan from CI_SCAN_PACKAGE "
                                               "(see pip's output above)")
    else:
        assert job.code == ExitCode.PASSED, job.output
        assert "Installed ci-scan" in job.stdout
        job.assert_every_artifact_exists()


SWEEP_EXAMPLE = ROOT / "examples" / "gitlab" / "weekly-sweep.yml"


def test_the_weekly_sweep_example_is_valid_and_sweeps_on_schedules_only() -> None:
    done = check_jsonschema(SWEEP_EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr
    (job,) = jobs_extending_the_template(SWEEP_EXAMPLE).values()
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    script = " ".join(job["script"])
    assert "ci-scan scan all --type host,container" in script
    for written in ("ci-scan.junit.xml", "ci-scan.sarif", "ci-scan.json", "ci-scan.md"):
        assert written in script, "the template's artifacts name these files"
