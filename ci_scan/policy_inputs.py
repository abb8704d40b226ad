"""The policy in force: options (flag or variable) over the policy file over the built-in default.

Each criterion records where it came from, so the reports can say why the gate is what it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ci_scan.baseline import Baseline, BaselineRequest, load_baseline_report
from ci_scan.errors import ConfigError
from ci_scan.ignores import default_ignore_file, load_ignore_file
from ci_scan.policy import CRITERIA, NARROWING, Policy, Scope, given_value
from ci_scan.policy_file import PolicyFile, default_policy_file, load_policy_file
from ci_scan.vex import load_vex

GATED = (*CRITERIA, *NARROWING)


@dataclass(frozen=True)
class PolicyInputs:
    policy: Policy
    baseline: BaselineRequest | None = None
    """A console baseline, fetched when the run starts; a report baseline is loaded already."""
    loaded_baseline: Baseline | None = None


def assemble(options: Mapping[str, object], given: Mapping[str, str]) -> PolicyInputs:
    """`options` by settings field; `given` says which came from a flag (`flag`) or a variable (`env`)."""
    path = str(options.get("policy") or "") or default_policy_file()
    file = load_policy_file(path) if path else PolicyFile("")

    def source(key: str) -> str:
        name = key.replace("_", "-")
        return f"CI_SCAN_{key.upper()}" if given.get(key) == "env" else f"--{name}"

    flags = {key: options.get(key) for key in GATED}

    def layered(*layers: tuple[Mapping[str, object], Mapping[str, str]]) -> tuple[dict[str, object], dict[str, str]]:
        values: dict[str, object] = {}
        sources: dict[str, str] = {}
        for layer_values, layer_sources in layers:
            for key, value in layer_values.items():
                # A file's (or scope's) `false` and a variable set to false are given: they switch off what an
                # earlier layer set. An option's False is only its default.
                explicit = layer_values is not flags or key in given
                if key in GATED and (given_value(value) or (value is False and explicit)):
                    values[key], sources[key] = value, layer_sources[key]
        return values, sources

    flag_layer = (flags, {key: source(key) for key in GATED})
    file_layer = (file.values, {key: file.where(key) for key in file.values})
    ignore_path = str(options.get("ignore_file") or file.values.get("ignore_file") or default_ignore_file() or "")
    ignores = (*(load_ignore_file(ignore_path) if ignore_path else ()), *file.ignores)
    vex_paths = _paths(options.get("vex")) or _paths(file.values.get("vex"))
    statements = load_vex(vex_paths) if vex_paths else ()
    try:
        scopes = []
        for scope in file.scopes:
            scope_layer = (scope.values, {key: file.where(key, scope) for key in scope.values})
            values, sources = layered(file_layer, scope_layer, flag_layer)
            label = f"{Path(file.path).name} line {scope.line} (images {', '.join(scope.images)})"
            scoped = Policy.from_values(values, sources, ignores=ignores, vex=statements)
            scopes.append(Scope(scope.images, replace(scoped, scope=label)))
        values, sources = layered(file_layer, flag_layer)
        policy = Policy.from_values(values, sources, ignores=ignores, vex=statements)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    policy = replace(policy, scopes=tuple(scopes))

    # A baseline option replaces the file's baseline, whichever of the three each names.
    baselines = ("baseline_scan_id", "baseline_image", "baseline_report")
    layer = options if any(options.get(key) for key in baselines) else file.values

    def chosen(key: str) -> str | None:
        value = layer.get(key)
        return str(value) if value else None

    in_file = [key for key in baselines if layer is file.values and chosen(key)]
    if len(in_file) > 1:
        where = " and ".join(f"{key.replace('_', '-')} ({file.where(key)})" for key in in_file)
        raise ConfigError(f"the policy file names two baselines, {where}: keep one")
    request = BaselineRequest.build(chosen("baseline_scan_id"), chosen("baseline_image"), chosen("baseline_report"))
    if request is not None and request.report:
        return PolicyInputs(policy, None, load_baseline_report(request.report))
    return PolicyInputs(policy, request)


def _paths(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if str(v).strip())
    return ()
