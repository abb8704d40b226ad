"""The policy file: loading (values, lines, paths, ignores, scopes), every mistake with its file, line and key,
the schema in step with the code, the README's example, and the layering of options over the file."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import ci_scan.app
from ci_scan.choices import FAIL_ON_CHOICES
from ci_scan.config import ImageScan, Settings
from ci_scan.decision import decide
from ci_scan.errors import ConfigError, ExitCode
from ci_scan.models import Finding, ImageRef, RunResult, Severity, Target, TargetResult, VulnerabilityDetails
from ci_scan.options import POLICY
from ci_scan.policy import CRITERIA, NARROWING
from ci_scan.policy_file import PATHS, PolicyFile, load_policy_file, schema
from ci_scan.policy_inputs import PolicyInputs, assemble
from tests.conftest import ROOT
from tests.unit.test_cli import TOKEN, invoke

VEX_DOCUMENT = ROOT / "tests" / "data" / "vex" / "app.openvex.json"
GATED = (*CRITERIA, *NARROWING)
NOT_GATED = {"version", "ignore", "vex", "scopes", "ignore-file", "baseline-scan-id", "baseline-image",
             "baseline-report"}


def kebab(field: str) -> str:
    return field.replace("_", "-")


def write(folder: Path, text: str, name: str = "policy.yml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def image_target(reference: str) -> Target:
    image = ImageRef.parse(reference)
    return Target(kind="image", node_id="node-" + reference, node_type="image", name=reference, image=image)


def gate(path: Path | None, given: Mapping[str, str] | None = None, **options: object) -> PolicyInputs:
    """assemble() as Settings.build calls it: every policy field present, unset ones at their click default."""
    values: dict[str, object] = {option.field: (False if option.is_flag else () if option.multiple else None)
                                 for option in POLICY}
    values.update(options)
    values["policy"] = str(path) if path else None
    return assemble(values, dict(given or {}))


# --- a complete good file ------------------------------------------------------------------------------------

COMPLETE = """\
version: 1
fail-on: high
max-critical: 0
max-high: 1
max-medium: 2
max-low: 3
max-total: 40
fail-on-count: 50
fail-on-critical-count: 1
fail-on-high-count: 2
fail-on-medium-count: 3
fail-on-low-count: -1
fail-on-score: 7.5
fail-on-kev: true
fail-on-exploit: true
fail-on-epss: 0.25
only-network: true
only-live: false
ignore-unfixed: true
ignore-file: accepted.yml
vex: {vex}
baseline-scan-id: abc-1732752000
baseline-image: registry.example.com/team/app:production
baseline-report: reports/previous.json
ignore:
  - id: CVE-2024-0001
    reason: the parser is never fed user input
    package: openssl
    version: 3.0.2
    image: registry.example.com/team/*
    expires: 2027-03-31
  - {{id: GHSA-aaaa-bbbb-cccc, reason: accepted}}
scopes:
  - images: prod/*
    fail-on: medium
    max-high: 0
    only-live: true
  - images: [sandbox/*, "*/experimental-*"]
    fail-on: none
    max-critical: 5
    ignore-unfixed: false
max-secrets: 0
max-malware: 1
"""
COMPLETE_VALUES: list[tuple[str, object, int]] = [
    ("fail_on", "high", 2), ("max_critical", 0, 3), ("max_high", 1, 4), ("max_medium", 2, 5), ("max_low", 3, 6),
    ("max_total", 40, 7), ("fail_on_count", 50, 8), ("fail_on_critical_count", 1, 9),
    ("fail_on_high_count", 2, 10), ("fail_on_medium_count", 3, 11), ("fail_on_low_count", -1, 12),
    ("fail_on_score", 7.5, 13), ("fail_on_kev", True, 14), ("fail_on_exploit", True, 15),
    ("fail_on_epss", 0.25, 16), ("only_network", True, 17), ("only_live", False, 18), ("ignore_unfixed", True, 19),
    ("baseline_scan_id", "abc-1732752000", 22), ("baseline_image", "registry.example.com/team/app:production", 23),
    ("max_secrets", 0, 42), ("max_malware", 1, 43),
]


@pytest.mark.parametrize(("vex", "expected"), [
    ("security/app.openvex.json", ["security/app.openvex.json"]),
    ("[security/a.json, /abs/b.json]", ["security/a.json", "/abs/b.json"]),
    ("\n  - security/a.json\n  - ../b.json", ["security/a.json", "../b.json"]),
])
def test_a_complete_file_loads_every_key_with_its_line(tmp_path: Path, vex: str, expected: list[str]) -> None:
    folder = tmp_path / "conf"
    path = write(folder, COMPLETE.format(vex=vex))
    loaded = load_policy_file(str(path))
    assert loaded.path == str(path)
    offset = len(expected) if vex.startswith("\n") else 0  # a block list moves the lines below it
    for field, value, line in COMPLETE_VALUES:
        assert loaded.values[field] == value, field
        assert type(loaded.values[field]) is type(value), field
        assert loaded.lines[field] == (line + offset if line > 21 else line), field
    # Paths are read relative to the policy file's folder (an absolute one stays as it is); vex is always a list.
    assert loaded.values["ignore_file"] == str(folder / "accepted.yml") and loaded.lines["ignore_file"] == 20
    assert loaded.values["vex"] == [str(folder / p) for p in expected] and loaded.lines["vex"] == 21
    assert loaded.values["baseline_report"] == str(folder / "reports" / "previous.json")
    assert loaded.lines["baseline_report"] == 24 + offset
    # Nothing else is a value: version, ignore and scopes are the file's own structure.
    assert set(loaded.values) == {f for f, _, _ in COMPLETE_VALUES} | {"ignore_file", "vex", "baseline_report"}
    assert set(loaded.values) == set(loaded.lines)

    first, second = loaded.ignores
    assert (first.id, first.reason, first.package, first.version, first.image, first.expires) == (
        "CVE-2024-0001", "the parser is never fed user input", "openssl", "3.0.2", "registry.example.com/team/*",
        dt.date(2027, 3, 31))
    assert first.where == f"policy.yml line {26 + offset}"
    assert (second.id, second.reason, second.expires, second.where) == (
        "GHSA-aaaa-bbbb-cccc", "accepted", None, f"policy.yml line {32 + offset}")

    prod, sandbox = loaded.scopes
    assert prod.images == ("prod/*",) and prod.line == 34 + offset
    assert prod.values == {"fail_on": "medium", "max_high": 0, "only_live": True}
    assert prod.lines == {"fail_on": 35 + offset, "max_high": 36 + offset, "only_live": 37 + offset}
    assert sandbox.images == ("sandbox/*", "*/experimental-*") and sandbox.line == 38 + offset
    assert sandbox.values == {"fail_on": "none", "max_critical": 5, "ignore_unfixed": False}
    assert sandbox.lines == {"fail_on": 39 + offset, "max_critical": 40 + offset, "ignore_unfixed": 41 + offset}
    assert loaded.where("max_high") == "policy.yml line 4"
    assert loaded.where("max_high", prod) == f"policy.yml line {36 + offset}"


def test_the_complete_file_uses_every_key_the_schema_has() -> None:
    keys = set(yaml.safe_load(COMPLETE.format(vex="a.json")))
    assert keys == set(schema()["properties"])
    scope_keys = set().union(*(set(s) for s in yaml.safe_load(COMPLETE.format(vex="a.json"))["scopes"]))
    assert scope_keys < set(schema()["$defs"]["scope"]["properties"])


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n# to come\n", "~\n"])
def test_an_empty_file_is_no_policy(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert load_policy_file(str(path)) == PolicyFile(str(path))
    policy = gate(path).policy
    assert policy.criteria_sources() == [("--fail-on critical", "default")] and policy.scopes == ()


def test_a_scope_with_one_image_or_a_list_of_them(tmp_path: Path) -> None:
    path = write(tmp_path, "scopes:\n  - images: a/*\n    max-low: 1\n  - images:\n      - b/*\n      - c/*\n"
                           "    max-low: 2\n  - images: [d]\n    max-low: 3\n")
    scopes = load_policy_file(str(path)).scopes
    assert [(s.images, s.line, s.values) for s in scopes] == [
        (("a/*",), 2, {"max_low": 1}), (("b/*", "c/*"), 4, {"max_low": 2}), (("d",), 8, {"max_low": 3})]


# --- the README's example ------------------------------------------------------------------------------------

def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### The policy file\n", 1)[1]
    match = re.search(r"^```yaml\n(.*?)^```$", section, re.S | re.M)
    assert match, "the README's policy file section has no ```yaml block"
    return match.group(1)


def expected_criteria(mapping: Mapping[str, Any]) -> set[str]:
    """The criteria a mapping of file keys gives, as Policy.criteria() words them."""
    found = set()
    for field in CRITERIA:
        value = mapping.get(kebab(field))
        if value is None or value is False or value == "none":
            continue
        if value is True:
            found.add(f"--{kebab(field)}")
        elif isinstance(value, (int, float)):
            if field.startswith("fail_on_") and field != "fail_on_epss" and value <= 0:
                continue  # package-scanner's 0 and -1: off
            found.add(f"--{kebab(field)} {value:g}")
        else:
            found.add(f"--{kebab(field)} {value}")
    return found or ({"--fail-on critical"} if mapping.get("fail-on") != "none" else set())


def test_the_readme_example_loads_and_gates_as_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    block = readme_example()
    lines = block.splitlines()
    parsed: dict[str, Any] = yaml.safe_load(block)
    path = write(tmp_path, block, ".ci-scan.yml")
    loaded = load_policy_file(str(path))
    # The files it names exist where it names them, relative to it: an ignore file and an OpenVEX document.
    ignore_file = Path(str(loaded.values["ignore_file"]))
    assert ignore_file == tmp_path / parsed["ignore-file"]
    ignore_file.write_text("")
    vex_paths = loaded.values["vex"]
    assert isinstance(vex_paths, list) and vex_paths
    for vex in vex_paths:
        Path(vex).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(VEX_DOCUMENT, vex)

    inputs = assemble({}, {})  # .ci-scan.yml in the working directory, no options
    policy = inputs.policy
    assert set(policy.criteria()) == expected_criteria(parsed)
    assert "--fail-on critical" not in policy.criteria()

    def line_of(source: str) -> str:
        found = re.fullmatch(r"\.ci-scan\.yml line (\d+)", source)
        assert found, source
        return lines[int(found.group(1)) - 1]

    for criterion, source in policy.criteria_sources():
        assert line_of(source).lstrip(" -").startswith(criterion.split()[0][2:] + ":"), (criterion, source)
    narrowing = {kebab(f) for f in NARROWING if parsed.get(kebab(f)) is True}
    assert {option[2:] for option, _ in policy.narrowing_sources()} == narrowing
    for option, source in policy.narrowing_sources():
        assert line_of(source).startswith(option[2:] + ":")
    assert len(policy.vex) == len(json.loads(VEX_DOCUMENT.read_text())["statements"]) * len(vex_paths)
    assert [(e.id, e.expires) for e in policy.ignores] == [
        (e["id"], dt.date.fromisoformat(str(e["expires"])) if "expires" in e else None) for e in parsed["ignore"]]
    if "baseline-image" in parsed:
        assert inputs.baseline is not None and str(inputs.baseline.image) == parsed["baseline-image"]

    assert len(policy.scopes) == len(parsed["scopes"])
    for scope, written in zip(policy.scopes, parsed["scopes"], strict=True):
        images = written["images"]
        assert scope.images == ((images,) if isinstance(images, str) else tuple(images))
        merged = {**{k: v for k, v in parsed.items() if k not in NOT_GATED}, **written}
        assert set(scope.policy.criteria()) == expected_criteria(merged), written
        assert scope.policy.scope.startswith(".ci-scan.yml line ")
        assert line_of(scope.policy.scope.split(" (")[0]).lstrip().startswith("- images:")
        for criterion, source in scope.policy.criteria_sources():
            assert line_of(source).lstrip(" -").startswith(criterion.split()[0][2:] + ":")

    # The example's own words: prod/* (with or without the host) fails on medium; sandbox and experimental
    # images have no severity threshold; anything else gets the top level.
    assert policy.for_target(image_target("registry.example.com/prod/api:1")).threshold_label == "medium"
    assert policy.for_target(image_target("prod/api:1")).threshold_label == "medium"
    assert policy.for_target(image_target("registry.example.com/sandbox/x:1")).fail_on is None
    assert policy.for_target(image_target("registry.example.com/team/experimental-ui:2")).fail_on is None
    assert policy.for_target(image_target("registry.example.com/team/app:1")) is policy


def test_the_readme_example_uses_only_keys_the_schema_has_and_every_kind_of_key() -> None:
    parsed: dict[str, Any] = yaml.safe_load(readme_example())
    properties = schema()["properties"]
    assert set(parsed) <= set(properties)
    scope_properties = schema()["$defs"]["scope"]["properties"]
    for scope in parsed["scopes"]:
        assert set(scope) <= set(scope_properties)
    for entry in parsed["ignore"]:
        assert set(entry) <= set(schema()["$defs"]["ignore-entry"]["properties"])
    # It shows every key that is not a criterion or a narrowing option (one baseline is enough), and some of each.
    assert NOT_GATED - {"baseline-scan-id", "baseline-report"} <= set(parsed)
    assert {kebab(f) for f in CRITERIA} & set(parsed) and {kebab(f) for f in NARROWING} & set(parsed)


# --- the schema and the code agree ---------------------------------------------------------------------------

def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    document = schema()
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["additionalProperties"] is False
    assert document["$defs"]["scope"]["additionalProperties"] is False
    assert document["$defs"]["ignore-entry"]["additionalProperties"] is False


def test_the_schema_names_exactly_the_criteria_and_narrowing_options() -> None:
    gated = {kebab(field) for field in GATED}
    assert len(gated) == len(GATED)
    top = set(schema()["properties"])
    assert top - NOT_GATED == gated
    assert NOT_GATED <= top
    assert set(schema()["$defs"]["scope"]["properties"]) == gated | {"images"}


def test_every_key_of_the_file_is_an_option() -> None:
    fields = {option.field for option in POLICY}
    assert set(GATED) <= fields
    keys = {key.replace("-", "_") for key in schema()["properties"]} - {"version", "ignore", "scopes"}
    assert keys <= fields
    assert set(PATHS) <= keys
    assert "policy" not in keys  # a policy file does not name another one
    assert schema()["$defs"]["fail-on"]["enum"] == list(FAIL_ON_CHOICES)


# --- every mistake: the file, the line, the key --------------------------------------------------------------

BAD: list[tuple[str, str, int, tuple[str, ...]]] = [
    ("unknown top-level key", "fail-on: high\nmax-critcal: 0\n", 2,
     ("unknown key 'max-critcal'", "(did you mean 'max-critical'?)")),
    ("unknown key, no close match", "fail-on: high\nzzz: 1\n", 2, ("unknown key 'zzz'", "known keys: ")),
    ("unknown key in a scope", "fail-on: high\nscopes:\n  - images: prod/*\n    max-hgh: 0\n", 4,
     ("unknown key 'max-hgh' in scopes[0]", "(did you mean 'max-high'?)")),
    ("a path key in a scope", "scopes:\n  - images: prod/*\n  - images: a\n    ignore-file: x.yml\n", 4,
     ("unknown key 'ignore-file' in scopes[1]",)),
    ("unknown key in an inline ignore", "ignore:\n  - id: C1\n    reason: r\n    packge: p\n", 4,
     ("unknown key 'packge' in ignore[0]", "(did you mean 'package'?)")),
    ("a word for a limit", "fail-on: high\nmax-critical: many\n", 2, ("max-critical:", "'many'", "integer")),
    ("a fraction for a limit", "max-total: 1.5\n", 1, ("max-total:", "integer")),
    ("true for a limit", "max-low: true\n", 1, ("max-low:", "integer")),
    ("a number for a switch", "fail-on-kev: 3\n", 1, ("fail-on-kev:", "boolean")),
    ("text for a switch", "only-live: 'yes'\n", 1, ("only-live:", "boolean")),
    ("a bad severity", "version: 1\nfail-on: severe\n", 2, ("fail-on:", "'severe'", "critical")),
    ("a bad severity in a scope", "scopes:\n  - images: a\n    fail-on: urgent\n", 3, ("scopes[0].fail-on:", "urgent")),
    ("a negative limit", "max-high: -1\n", 1, ("max-high:", "minimum of 0")),
    ("a count below -1", "fail-on-count: -2\n", 1, ("fail-on-count:", "minimum of -1")),
    ("epss 0", "fail-on-epss: 0\n", 1, ("fail-on-epss:", "0")),
    ("epss above 1", "fail-on-epss: 1.5\n", 1, ("fail-on-epss:", "1.5", "maximum of 1")),
    ("epss .nan", "fail-on-epss: .nan\n", 1, ("fail-on-epss:", "not a number")),
    ("score 11", "fail-on-score: 11\n", 1, ("fail-on-score:", "11", "maximum of 10")),
    ("score .nan in a scope", "scopes:\n  - images: a\n    fail-on-score: .nan\n", 3, ("fail-on-score:", "number")),
    ("an unknown version", "version: 2\nfail-on: high\n", 1, ("version:",)),
    ("a key given twice", "max-high: 1\nfail-on: high\nmax-high: 2\n", 3, ("'max-high' is given twice",)),
    ("a key given twice in a scope", "scopes:\n  - images: a\n    max-high: 1\n    max-high: 2\n", 4,
     ("'max-high' is given twice",)),
    ("a key given twice in an ignore", "ignore:\n  - id: C1\n    reason: r\n    id: C2\n", 4, ("'id' is given twice",)),
    ("not YAML", "fail-on: high\n  max-high: 1\n", 2, ("not valid YAML",)),
    ("an unclosed list", "fail-on: high\nvex: [a.json\n", 3, ("not valid YAML",)),
    ("two documents", "fail-on: high\n---\nfail-on: low\n", 2, ("not valid YAML",)),
    ("a list, not a mapping", "- fail-on: high\n- max-high: 0\n", 1, ("must be a mapping of options",)),
    ("a word, not a mapping", "fail-on-high\n", 1, ("must be a mapping of options",)),
    ("scopes not a list", "scopes:\n  images: a\n", 2, ("scopes:", "array")),
    ("a scope without images", "fail-on: high\nscopes:\n  - fail-on: low\n    max-high: 0\n", 3,
     ("scopes[0]:", "'images'")),
    ("a scope with no images", "scopes:\n  - images: []\n", 2, ("scopes[0].images:",)),
    ("a scope with an empty pattern", "scopes:\n  - images: ''\n", 2, ("scopes[0].images:",)),
    ("an empty path", "fail-on: high\nignore-file: ''\n", 2, ("ignore-file:", "must not be empty")),
    ("a blank text", "baseline-image: '   '\n", 1, ("baseline-image:", "must not be empty")),
    ("an empty vex list", "vex: []\n", 1, ("vex:",)),
    ("an empty vex path", "vex: ['']\n", 1, ("vex:",)),
    ("a key with no value", "fail-on: high\nmax-high:\n", 2, ("max-high has no value",)),
    ("vex with no value", "vex:\nfail-on: high\n", 1, ("vex has no value",)),
    ("a scope key with no value", "scopes:\n  - images: a\n    fail-on:\n", 3, ("scopes[0].fail-on has no value",)),
    ("an ignore entry without a reason", "fail-on: high\nignore:\n  - id: C1\n    package: p\n", 3,
     ("ignore[0]:", "'reason'")),
    ("an ignore entry without an id", "ignore:\n  - reason: r\n", 2, ("ignore[0]:", "'id'")),
    ("an ignore entry with an empty reason", "ignore:\n  - id: C1\n    reason: ''\n", 3, ("ignore[0].reason:",)),
    ("an ignore entry that is a word", "ignore:\n  - CVE-1\n", 2, ("ignore[0]:", "object")),
    ("a bad expiry", "ignore:\n  - id: C1\n    reason: r\n    expires: soon\n", 4,
     ("expires", "'soon' is not a date such as 2027-03-31")),
    ("an impossible date", "ignore:\n  - id: C1\n    reason: r\n    expires: 2027-02-30\n", 4,
     ("expires", "'2027-02-30' is not a date such as 2027-03-31")),
    ("a date without dashes", "ignore:\n  - id: C1\n    reason: r\n    expires: '20270331'\n", 4,
     ("expires", "is not a date such as 2027-03-31")),
    ("a date as a number", "ignore:\n  - id: C1\n    reason: r\n    expires: 20270331\n", 4,
     ("expires", "20270331 is not a date such as 2027-03-31")),
]


@pytest.mark.parametrize(("text", "line", "needles"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_every_mistake_names_the_file_the_line_and_the_key(tmp_path: Path, text: str, line: int,
                                                         needles: tuple[str, ...]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_policy_file(str(path))
    message = str(refused.value)
    assert message.startswith(f"{path} line {line}: "), message
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert refused.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(("make", "needle"), [
    (lambda folder: folder / "missing.yml", "No such file or directory"),
    (lambda folder: folder, "Is a directory"),
    (lambda folder: (folder / "latin1.yml", (folder / "latin1.yml").write_bytes(b"fail-on: h\xe9gh\n"))[0],
     "line 1: the policy file is not UTF-8 (byte 0xe9)"),
])
def test_a_file_that_cannot_be_read_is_named(tmp_path: Path, make: Any, needle: str) -> None:
    path: Path = make(tmp_path)
    with pytest.raises(ConfigError) as refused:
        load_policy_file(str(path))
    message = str(refused.value)
    assert message.startswith((f"cannot read the policy file {path}: ", f"{path} line")) and needle in message, message
    assert "\n" not in message


def test_the_message_is_made_for_the_first_problem_only(tmp_path: Path) -> None:
    path = write(tmp_path, "fail-on: severe\nmax-critcal: 1\nmax-high: -1\n")
    with pytest.raises(ConfigError, match=r"line 1: fail-on: 'severe' is not one of"):
        load_policy_file(str(path))
    later = write(tmp_path, "max-high: -1\nmax-critcal: 1\nfail-on: severe\n")
    with pytest.raises(ConfigError, match=r"line 1: max-high: -1 is less than the minimum of 0"):
        load_policy_file(str(later))
    typo_first = write(tmp_path, "max-critcal: 1\nmax-high: -1\n")
    with pytest.raises(ConfigError, match=r"line 1: unknown key 'max-critcal' \(did you mean 'max-critical'\?\)"):
        load_policy_file(str(typo_first))


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings each run would have started with; a run that starts is a test failure waiting to happen."""
    seen: list[Settings] = []

    def fake_run(settings: Settings) -> ExitCode:
        seen.append(settings)
        return ExitCode.PASSED

    monkeypatch.setattr(ci_scan.app, "run", fake_run)
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEEPFENCE_CONSOLE_URL", "console.example.com")
    return seen


@pytest.mark.parametrize(("how", "text", "needle"), [
    ("default", "fail-on: high\nmax-critcal: 0\n", ".ci-scan.yml line 2: unknown key 'max-critcal' (did you mean"),
    ("flag", "fail-on: severe\n", "p.yml line 1: fail-on: 'severe' is not one of"),
    ("env", "max-high: 1\nmax-high: 2\n", "p.yml line 2: 'max-high' is given twice"),
    ("flag", "scopes:\n  - fail-on: low\n", "p.yml line 2: scopes[0]: 'images' is a required property"),
    ("flag", "fail-on: [high\n", "p.yml line 2: not valid YAML"),
])
@pytest.mark.parametrize("command", [["scan", "image", "reg.io/app:1"], ["scan", "registry", "r"], ["results", "s-1"]])
def test_a_bad_policy_file_is_exit_2_in_one_line_before_anything_runs(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, runs: list[Settings],
        how: str, text: str, needle: str, command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text, ".ci-scan.yml" if how == "default" else "p.yml")
    args = [*command, "--policy", "p.yml"] if how == "flag" else command
    if how == "env":
        monkeypatch.setenv("CI_SCAN_POLICY", "p.yml")
    code, output = invoke(monkeypatch, capsys, *args)
    assert code == ExitCode.USAGE, output
    assert output.strip().splitlines() == [output.strip()], output
    assert output.startswith("ci-scan: error: ") and needle in output, output
    assert "Traceback" not in output
    assert runs == []


def test_a_missing_policy_file_given_by_flag_is_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       runs: list[Settings]) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = invoke(monkeypatch, capsys, "scan", "image", "reg.io/app:1", "--policy", "nope.yml")
    assert code == ExitCode.USAGE and "cannot read the policy file nope.yml" in output and runs == []


def test_the_command_line_layers_flags_and_variables_over_the_file(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        runs: list[Settings]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "fail-on: high\nmax-high: 0\nmax-low: 9\nfail-on-kev: true\nonly-network: true\n", ".ci-scan.yml")
    monkeypatch.setenv("CI_SCAN_MAX_HIGH", "3")
    monkeypatch.setenv("CI_SCAN_FAIL_ON_KEV", "false")  # a variable set to false is given: it switches the key off
    monkeypatch.setenv("CI_SCAN_ONLY_NETWORK", "")  # an empty variable is not given: the file's value stays
    code, output = invoke(monkeypatch, capsys, "scan", "image", "reg.io/app:1", "--max-low", "4")
    assert code == ExitCode.PASSED, output
    (settings,) = runs
    assert settings.policy.criteria_sources() == [
        ("--fail-on high", ".ci-scan.yml line 1"), ("--max-high 3", "CI_SCAN_MAX_HIGH"), ("--max-low 4", "--max-low")]
    assert settings.policy.narrowing_sources() == [("--only-network", ".ci-scan.yml line 5")]


# --- precedence and sources ----------------------------------------------------------------------------------

PRECEDENCE: list[tuple[str, str, dict[str, object], dict[str, str], list[tuple[str, str]]]] = [
    ("the file's criterion, and no default threshold", "max-high: 2\n", {}, {},
     [("--max-high 2", "p.yml line 1")]),
    ("a flag overrides the same key", "fail-on: high\nmax-high: 2\n", {"max_high": 5}, {"max_high": "flag"},
     [("--fail-on high", "p.yml line 1"), ("--max-high 5", "--max-high")]),
    ("a variable overrides the same key", "max-high: 2\n", {"max_high": 5}, {"max_high": "env"},
     [("--max-high 5", "CI_SCAN_MAX_HIGH")]),
    ("a flag of 0 overrides", "max-high: 2\n", {"max_high": 0}, {"max_high": "flag"},
     [("--max-high 0", "--max-high")]),
    ("a flag adds to the file", "fail-on: low\n", {"fail_on_kev": True}, {"fail_on_kev": "flag"},
     [("--fail-on low", "p.yml line 1"), ("--fail-on-kev", "--fail-on-kev")]),
    ("the default when neither gives one", "only-live: true\n", {}, {}, [("--fail-on critical", "default")]),
    ("the file's fail-on critical is the file's", "fail-on: critical\n", {}, {},
     [("--fail-on critical", "p.yml line 1")]),
    ("--fail-on none switches off the file's threshold only",
     "fail-on: high\nmax-critical: 0\nfail-on-exploit: true\n", {"fail_on": "none"}, {"fail_on": "flag"},
     [("--fail-on none", "--fail-on"), ("--max-critical 0", "p.yml line 2"), ("--fail-on-exploit", "p.yml line 3")]),
    ("the file's fail-on none keeps a flag's criterion", "fail-on: none\n", {"max_total": 10}, {"max_total": "flag"},
     [("--fail-on none", "p.yml line 1"), ("--max-total 10", "--max-total")]),
    ("the file's none alone leaves no criterion", "fail-on: none\n", {}, {}, [("--fail-on none", "p.yml line 1")]),
    ("package-scanner's 0 is off: the default stays", "fail-on-count: 0\nfail-on-high-count: -1\n", {}, {},
     [("--fail-on critical", "default")]),
    ("false in the file is no criterion", "fail-on-kev: false\n", {}, {}, [("--fail-on critical", "default")]),
    ("a variable set to false switches the file's switch off", "fail-on-kev: true\nmax-low: 1\n",
     {"fail_on_kev": False}, {"fail_on_kev": "env"}, [("--max-low 1", "p.yml line 2")]),
    ("an unset flag leaves the file's switch", "fail-on-kev: true\n", {"fail_on_kev": False}, {},
     [("--fail-on-kev", "p.yml line 1")]),
    ("a float from the file", "fail-on-epss: 0.3\nfail-on-score: 8\n", {}, {},
     [("--fail-on-score 8", "p.yml line 2"), ("--fail-on-epss 0.3", "p.yml line 1")]),
]


@pytest.mark.parametrize(("text", "options", "given", "expected"), [case[1:] for case in PRECEDENCE],
                         ids=[case[0] for case in PRECEDENCE])
def test_options_over_the_file_over_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                                options: dict[str, object], given: dict[str, str],
                                                expected: list[tuple[str, str]]) -> None:
    monkeypatch.chdir(tmp_path)
    policy = gate(write(tmp_path, text, "p.yml"), given, **options).policy
    assert policy.criteria_sources() == expected
    criteria = [c for c, _ in expected if c != "--fail-on none"]  # none is a switch, not a criterion
    assert policy.describe() == (", ".join(criteria) or "--fail-on none")


def test_narrowing_options_come_from_the_file_or_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "fail-on: high\nonly-network: true\nonly-live: false\n")
    assert gate(path).policy.narrowing_sources() == [("--only-network", "policy.yml line 2")]
    both = gate(path, {"only_live": "flag", "ignore_unfixed": "env"}, only_live=True, ignore_unfixed=True).policy
    assert both.narrowing_sources() == [("--only-network", "policy.yml line 2"), ("--only-live", "--only-live"),
                                        ("--ignore-unfixed", "CI_SCAN_IGNORE_UNFIXED")]
    assert both.only_network and both.only_live and both.ignore_unfixed


def test_settings_build_takes_the_file_and_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "fail-on: high\nmax-high: 2\nmax-low: 7\n")
    settings = Settings.build(console_url="c.example.com", api_token=TOKEN, request=ImageScan(()),
                              policy={"policy": str(path), "max_high": 4, "max_low": 1},
                              given={"max_high": "env", "max_low": "flag"})
    assert settings.policy.criteria_sources() == [
        ("--fail-on high", "policy.yml line 1"), ("--max-high 4", "CI_SCAN_MAX_HIGH"), ("--max-low 1", "--max-low")]
    with pytest.raises(ConfigError, match=r"policy\.yml line 1: fail-on: 'severe'"):
        Settings.build(console_url="c.example.com", api_token=TOKEN, request=ImageScan(()),
                       policy={"policy": str(write(tmp_path, "fail-on: severe\n"))})


SCOPED_FILE = """\
fail-on: high
max-critical: 0
only-network: true
fail-on-kev: true
scopes:
  - images: prod/*
    fail-on: medium
    max-high: 0
  - images: [prod/api, "*/legacy-*"]
    fail-on: none
    max-critical: 5
  - images: registry.example.com/switches/*
    fail-on-kev: false
    only-network: false
"""


@pytest.mark.parametrize(("reference", "scope", "criteria"), [
    ("registry.example.com/prod/api:1", "policy.yml line 6 (images prod/*)",
     [("--fail-on medium", "policy.yml line 7"), ("--max-critical 0", "policy.yml line 2"),
      ("--max-high 0", "policy.yml line 8"), ("--fail-on-kev", "policy.yml line 4")]),
    ("prod/api:1", "policy.yml line 6 (images prod/*)",  # without the host: the first matching scope still wins
     [("--fail-on medium", "policy.yml line 7"), ("--max-critical 0", "policy.yml line 2"),
      ("--max-high 0", "policy.yml line 8"), ("--fail-on-kev", "policy.yml line 4")]),
    ("quay.io/team/legacy-ui:3", "policy.yml line 9 (images prod/api, */legacy-*)",
     [("--fail-on none", "policy.yml line 10"), ("--max-critical 5", "policy.yml line 11"),
      ("--fail-on-kev", "policy.yml line 4")]),
    ("registry.example.com/switches/app:1", "policy.yml line 12 (images registry.example.com/switches/*)",
     [("--fail-on high", "policy.yml line 1"), ("--max-critical 0", "policy.yml line 2")]),
    ("registry.example.com/team/app:1", "", [("--fail-on high", "policy.yml line 1"),
                                              ("--max-critical 0", "policy.yml line 2"),
                                              ("--fail-on-kev", "policy.yml line 4")]),
    ("registry.example.com/preprod/api:1", "", [("--fail-on high", "policy.yml line 1"),
                                                 ("--max-critical 0", "policy.yml line 2"),
                                                 ("--fail-on-kev", "policy.yml line 4")]),
])
def test_a_target_gets_the_first_scope_matching_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: str,
                                                   scope: str, criteria: list[tuple[str, str]]) -> None:
    monkeypatch.chdir(tmp_path)
    policy = gate(write(tmp_path, SCOPED_FILE)).policy
    chosen = policy.for_target(image_target(reference))
    assert chosen.scope == scope
    assert (chosen is policy) == (scope == "")
    assert chosen.criteria_sources() == criteria
    # A scope that sets a switch to false switches it off; the others keep the top level's.
    switched = reference.startswith("registry.example.com/switches/")
    assert chosen.only_network is not switched and chosen.fail_on_kev is not switched
    assert chosen.narrowing_sources() == ([] if switched else [("--only-network", "policy.yml line 3")])


def test_a_flag_overrides_a_scope_key_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = {"max_high": "flag", "fail_on": "env"}
    policy = gate(write(tmp_path, SCOPED_FILE), given, max_high=3, fail_on="low").policy
    prod = policy.for_target(image_target("registry.example.com/prod/api:1"))
    assert prod.scope == "policy.yml line 6 (images prod/*)"
    assert prod.criteria_sources() == [("--fail-on low", "CI_SCAN_FAIL_ON"), ("--max-critical 0", "policy.yml line 2"),
                                       ("--max-high 3", "--max-high"), ("--fail-on-kev", "policy.yml line 4")]
    legacy = policy.for_target(image_target("quay.io/team/legacy-ui:3"))
    assert ("--fail-on low", "CI_SCAN_FAIL_ON") in legacy.criteria_sources()
    top = policy.for_target(image_target("registry.example.com/team/app:1"))
    assert top.criteria_sources()[:2] == [("--fail-on low", "CI_SCAN_FAIL_ON"),
                                          ("--max-critical 0", "policy.yml line 2")]


def test_a_bad_value_from_an_option_is_still_refused_with_a_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--fail-on-epss"):
        gate(write(tmp_path, SCOPED_FILE), {"fail_on_epss": "flag"}, fail_on_epss=2.0)


def test_the_working_directory_s_file_is_read_unless_another_is_given(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert gate(None).policy.criteria_sources() == [("--fail-on critical", "default")]  # no file: the default
    write(tmp_path, "fail-on: low\n", ".ci-scan.yml")
    assert gate(None).policy.criteria_sources() == [("--fail-on low", ".ci-scan.yml line 1")]
    other = write(tmp_path / "elsewhere", "\nmax-medium: 1\n", "team.yml")
    assert gate(other).policy.criteria_sources() == [("--max-medium 1", "team.yml line 2")]
    (tmp_path / ".ci-scan.yml").unlink()
    (tmp_path / ".ci-scan.yml").mkdir()  # not a file: not a policy file either
    assert gate(None).policy.criteria_sources() == [("--fail-on critical", "default")]


IGNORE = "ignore:\n  - id: {id}\n    reason: accepted\n"


def test_the_ignore_file_the_policy_names_a_flag_or_the_default(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, IGNORE.format(id="DEFAULT"), ".ci-scan-ignore.yml")
    write(tmp_path / "conf", IGNORE.format(id="NAMED"), "accepted.yml")
    write(tmp_path, IGNORE.format(id="FLAG"), "flag.yml")
    names = write(tmp_path / "conf", "ignore-file: accepted.yml\nignore:\n  - {id: INLINE, reason: ok}\n")
    silent = write(tmp_path / "conf", "fail-on: high\n", "silent.yml")

    def ids(inputs: PolicyInputs) -> list[tuple[str, str]]:
        return [(entry.id, entry.where) for entry in inputs.policy.ignores]

    assert ids(gate(names)) == [("NAMED", "accepted.yml line 2"), ("INLINE", "policy.yml line 3")]
    assert ids(gate(names, {"ignore_file": "flag"}, ignore_file="flag.yml")) == [
        ("FLAG", "flag.yml line 2"), ("INLINE", "policy.yml line 3")]
    assert ids(gate(silent)) == [("DEFAULT", ".ci-scan-ignore.yml line 2")]
    assert ids(gate(None)) == [("DEFAULT", ".ci-scan-ignore.yml line 2")]
    # Every scope's policy carries the same accepted findings.
    scoped = gate(write(tmp_path / "conf", "ignore-file: accepted.yml\nscopes:\n  - images: a\n    max-low: 1\n",
                        "scoped.yml")).policy
    assert [e.id for e in scoped.scopes[0].policy.ignores] == ["NAMED"]
    missing = write(tmp_path / "conf", "ignore-file: nope.yml\n", "missing.yml")
    with pytest.raises(ConfigError, match=re.escape(f"cannot read the ignore file {tmp_path / 'conf' / 'nope.yml'}")):
        gate(missing)


def test_vex_and_the_baseline_from_the_file_or_an_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf" / "security").mkdir(parents=True)
    shutil.copy(VEX_DOCUMENT, tmp_path / "conf" / "security" / "app.json")
    statements = len(json.loads(VEX_DOCUMENT.read_text())["statements"])
    path = write(tmp_path / "conf", "vex: security/app.json\nbaseline-image: reg.io/team/app:prod\n"
                                    "scopes:\n  - images: a\n    max-low: 1\n")
    inputs = gate(path)
    assert len(inputs.policy.vex) == statements and len(inputs.policy.scopes[0].policy.vex) == statements
    assert inputs.baseline is not None and str(inputs.baseline.image) == "reg.io/team/app:prod"
    # Options replace the file's: a VEX document, and a baseline of another kind.
    with_flag = gate(path, {"vex": "flag", "baseline_scan_id": "flag"}, vex=(), baseline_scan_id="scan-1")
    assert len(with_flag.policy.vex) == statements
    assert with_flag.baseline is not None
    assert (with_flag.baseline.scan_id, with_flag.baseline.image) == ("scan-1", None)
    with pytest.raises(ConfigError, match="cannot read"):
        gate(path, {"vex": "flag"}, vex=("nope.json",))
    two = write(tmp_path, "baseline-scan-id: s-1\nbaseline-image: reg.io/a:1\n", "two.yml")
    with pytest.raises(ConfigError, match="two baselines"):
        gate(two)


# --- decisions by scope, end to end --------------------------------------------------------------------------

def high(rule: str) -> Finding:
    return Finding("vulnerability", rule, Severity.HIGH, "pkg:1.0", fixed_in="1.1", result_id=rule,
                   details=VulnerabilityDetails(network="network", live_connection=True))


def test_decisions_follow_the_scope_of_each_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "fail-on: critical\nscopes:\n  - images: prod/*\n    max-high: 0\n", ".ci-scan.yml")
    policy = gate(path).policy
    run = RunResult(targets=tuple(
        TargetResult(target=image_target(reference), scan_id=f"s-{index}", status="COMPLETE",
                     findings=(high(f"CVE-2024-000{index}"),))
        for index, reference in enumerate(("registry.example.com/prod/api:1", "registry.example.com/team/app:1"))))
    decision = decide(run, policy)
    prod, team = decision.targets
    assert (prod.verdict, team.verdict) == ("failed", "passed")
    assert decision.verdict == "failed" and decision.exit_code == ExitCode.GATE_FAILED
    assert prod.policy.scope == ".ci-scan.yml line 3 (images prod/*)" and team.policy.scope == ""
    assert ("--max-high 0", ".ci-scan.yml line 4") in prod.policy.criteria_sources()
    assert [f.rule_id for f in prod.failing] == ["CVE-2024-0000"] and team.failing == ()
    assert [r.rule for r in prod.rules if r.tripped] == ["max-high"]
    # A flag loosens the scope's limit: both pass.
    loose = gate(path, {"max_high": "flag"}, max_high=1).policy
    assert decide(run, loose).verdict == "passed"


@pytest.mark.parametrize(("text", "expected"), [
    ("fail-on: HIGH\n", "high"),
    ("scopes:\n  - images: prod/*\n    fail-on: Medium\n", None),
])
def test_fail_on_is_read_whatever_its_case(tmp_path: Path, text: str, expected: str | None) -> None:
    loaded = load_policy_file(str(write(tmp_path, text)))
    if expected:
        assert loaded.values["fail_on"] == expected
    else:
        assert loaded.scopes[0].values["fail_on"] == "medium"


def test_yaml_booleans_for_fail_on_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 1: fail-on: YAML reads 'off' as false; write one of the values, "
                                          r"e\.g\. 'none'"):
        load_policy_file(str(write(tmp_path, "fail-on: off\n")))


def test_two_baselines_in_the_file_are_named_with_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "fail-on: high\nbaseline-scan-id: abc-1\nbaseline-image: team/app:1\n")
    with pytest.raises(ConfigError, match=r"the policy file names two baselines, baseline-scan-id \(policy\.yml "
                                          r"line 2\) and baseline-image \(policy\.yml line 3\): keep one"):
        assemble({"policy": str(path)}, {})


@pytest.mark.parametrize(("top", "scope_threshold"), [
    ("", ("--fail-on critical", "default")),  # the built-in threshold holds in a scope that sets none
    ("fail-on: high\n", ("--fail-on high", "policy.yml line 1")),
    ("max-total: 50\n", None),  # a criterion at the top switched the default off, for the scope too
])
def test_a_scope_keeps_the_top_levels_threshold_unless_it_sets_one(tmp_path: Path, top: str,
                                                                   scope_threshold: tuple[str, str] | None) -> None:
    path = write(tmp_path, f"{top}scopes:\n  - images: team/*\n    max-high: 20\n")
    policy = assemble({"policy": str(path)}, {}).policy
    scoped = policy.for_target(image_target("registry.example.com/team/app:1"))
    assert scoped.scope
    threshold = [pair for pair in scoped.criteria_sources() if pair[0].startswith("--fail-on ")]
    assert threshold == ([scope_threshold] if scope_threshold else [])
    critical = Finding("vulnerability", "CVE-2024-0001", Severity.CRITICAL, "openssl:3.0.2",
                       details=VulnerabilityDetails())
    run = RunResult(targets=(TargetResult(image_target("registry.example.com/team/app:1"), "s", "COMPLETE",
                                          (critical,)),))
    assert decide(run, policy).verdict == ("failed" if scope_threshold else "passed")


def test_a_number_of_thousands_of_digits_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="policy.yml: a value cannot be read"):
        load_policy_file(str(write(tmp_path, "max-high: " + "1" * 5000 + "\n")))
