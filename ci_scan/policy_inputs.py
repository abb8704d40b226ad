"""The policy in force: options (flag or variable) over the policy file over the built-in default.

Each criterion records where it came from, so the reports can say why the gate is what it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from ci_scan.baseline import Baseline, BaselineRequest, load_baseline_report
from ci_scan.errors import ConfigError
from ci_scan.ignores import default_ignore_file, load_ignore_file
from ci_scan.policy import CRITERIA, NARROWING, Policy, Scope, given_value
from ci_scan.policy_file import PolicyFile, default_policy_file, load_policy_file
from ci_scan.vex_reader import load_vex

GATED = (*CRITERIA, *NARROWING)
_T = TypeVar("_T")


@dataclass(frozen=True)
class PolicyInputs:
    policy: Policy
    baseline: BaselineRequest | None = None
    """A console baseline, fetched when the run starts; a report baseline is loaded already."""
    loaded_baseline: Baseline | None = None


@dataclass(frozen=True)
class _Layer:
    """One place options come from: values and where each was set."""

    values: Mapping[str, object]
    sources: Mapping[str, str]
    chosen: frozenset[str]
    """The keys whose False is a choice (it switches off what a layer below set), not a default."""


def _merge(*layers: _Layer) -> tuple[dict[str, object], dict[str, str]]:
    """The gate's options, each from the last layer that gives it."""
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, value in layer.values.items():
            if key in GATED and (given_value(value) or (value is False and key in layer.chosen)):
                values[key], sources[key] = value, layer.sources[key]
    return values, sources


def assemble(options: Mapping[str, object], given: Mapping[str, str]) -> PolicyInputs:
    """`options` by settings field; `given` says which came from a flag (`flag`) or a variable (`env`)."""
    path = str(options.get("policy") or "") or default_policy_file()
    file = load_policy_file(path) if path else PolicyFile("")

    def source(key: str) -> str:
        return f"CI_SCAN_{key.upper()}" if given.get(key) == "env" else f"--{key.replace('_', '-')}"

    flags = _Layer({key: options.get(key) for key in GATED}, {key: source(key) for key in GATED}, frozenset(given))
    top = _Layer(file.values, {key: file.where(key) for key in file.values}, frozenset(file.values))

    def from_file(key: str, load: Callable[[], _T]) -> _T:
        """Load what `key` names; a problem with a path the file gave says where the file gave it."""
        try:
            return load()
        except ConfigError as exc:
            if options.get(key) or key not in file.values:
                raise
            raise ConfigError(f"{exc} (named at {file.where(key)})", hint=exc.hint) from None

    ignore_path = str(options.get("ignore_file") or file.values.get("ignore_file") or default_ignore_file() or "")
    ignores = (*from_file("ignore_file", lambda: load_ignore_file(ignore_path) if ignore_path else ()),
               *file.ignores)
    vex_paths = _paths(options.get("vex")) or _paths(file.values.get("vex"))
    statements = from_file("vex", lambda: load_vex(vex_paths) if vex_paths else ())
    try:
        policy = Policy.from_values(*_merge(top, flags), ignores=ignores, vex=statements)
        scopes = []
        for scope in file.scopes:
            layer = _Layer(scope.values, {key: file.where(key, scope) for key in scope.values},
                           frozenset(scope.values))
            values, sources = _merge(top, layer, flags)
            if "fail_on" not in values and policy.fail_on is not None:
                # The top level's threshold, the default one included, holds unless the scope sets its own.
                values["fail_on"], sources["fail_on"] = policy.threshold_label, policy.source_of("fail_on")
            label = f"{Path(file.path).name} line {scope.line} (images {', '.join(scope.images)})"
            scoped = Policy.from_values(values, sources, ignores=ignores, vex=statements)
            scopes.append(Scope(scope.images, replace(scoped, scope=label)))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    policy = replace(policy, scopes=tuple(scopes))
    baseline = from_file("baseline_image", lambda: _baseline(options, file))
    if baseline is not None and baseline.report:
        return PolicyInputs(policy, None, from_file("baseline_report", lambda: load_baseline_report(baseline.report)))
    return PolicyInputs(policy, baseline)


BASELINES = ("baseline_scan_id", "baseline_image", "baseline_report")


def _baseline(options: Mapping[str, object], file: PolicyFile) -> BaselineRequest | None:
    """A baseline option replaces the file's baseline, whichever of the three each names."""
    layer = options if any(options.get(key) for key in BASELINES) else file.values
    chosen = {key: str(layer[key]) for key in BASELINES if layer.get(key)}
    if layer is file.values and len(chosen) > 1:
        where = " and ".join(f"{key.replace('_', '-')} ({file.where(key)})" for key in chosen)
        raise ConfigError(f"the policy file names two baselines, {where}: keep one")
    return BaselineRequest.build(chosen.get("baseline_scan_id"), chosen.get("baseline_image"),
                                 chosen.get("baseline_report"))


def _paths(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if str(v).strip())
    return ()
