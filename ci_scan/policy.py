"""The admin's pass/fail criteria, and how each is measured on one target's findings. Pure functions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from ci_scan.choices import FAIL_ON_CHOICES
from ci_scan.ignores import IgnoreEntry, image_matches
from ci_scan.models import Finding, Severity, Target
from ci_scan.vex import VexStatement

COUNTED_SEVERITIES = ("critical", "high", "medium", "low")
SCORE_DIVISOR = 50.0
"""package-scanner's cumulative score: the sum of `cve_overall_score` divided by 50, capped at 10."""
MAX_SCORE = 10.0

KIND_LIMITS = {"secrets": "secret", "malware": "malware"}
"""`--max-secrets` and `--max-malware`: limits on the findings of one scan kind, of any severity."""
MAX_KEYS = (*COUNTED_SEVERITIES, "total", *KIND_LIMITS)
CRITERIA = (
    "fail_on", *(f"max_{key}" for key in MAX_KEYS), "fail_on_count",
    *(f"fail_on_{key}_count" for key in COUNTED_SEVERITIES), "fail_on_score", "fail_on_kev", "fail_on_exploit",
    "fail_on_epss",
)
"""The options that are criteria, by settings field: any one given turns the default threshold off."""
NARROWING = ("only_network", "only_live", "ignore_unfixed")
"""The options that narrow what every criterion counts."""
DEFAULT_SOURCE = "default"


@dataclass(frozen=True)
class Policy:
    """Criteria (any of which fails the gate) and what narrows the findings they count."""

    fail_on: Severity | None = Severity.CRITICAL
    """Fail on any counted finding at or above this severity; None switches the threshold off."""
    max_counts: tuple[tuple[str, int], ...] = ()
    """(`critical`…`low`, `total`, `secrets` or `malware`, N): fail when the count exceeds N."""
    at_least_counts: tuple[tuple[str, int], ...] = ()
    """package-scanner's `-fail-on-*-count`: (`critical`…`low` or `total`, N), fail when the count is ≥ N."""
    fail_on_score: float | None = None
    fail_on_kev: bool = False
    fail_on_exploit: bool = False
    fail_on_epss: float | None = None
    only_network: bool = False
    only_live: bool = False
    ignore_unfixed: bool = False
    ignores: tuple[IgnoreEntry, ...] = ()
    """The ignore file's entries: accepted findings never fail the gate (until an entry expires)."""
    vex: tuple[VexStatement, ...] = ()
    """The VEX documents' statements: `not_affected` and `fixed` ones suppress what they match."""
    sources: tuple[tuple[str, str], ...] = ()
    """(criterion field, where it was set: `--max-high`, `CI_SCAN_MAX_HIGH`, `.ci-scan.yml line 4`)."""
    scopes: tuple[Scope, ...] = ()
    """Policies for targets matching an image pattern; the first that matches replaces this one."""
    scope: str = ""
    """For a scope's policy, which: `.ci-scan.yml line 9 (images prod/*)`."""

    @classmethod
    def from_values(
        cls,
        values: Mapping[str, object],
        sources: Mapping[str, str] | None = None,
        *,
        ignores: tuple[IgnoreEntry, ...] = (),
        vex: tuple[VexStatement, ...] = (),
    ) -> Policy:
        """The policy of option values by settings field (None, False or "": not given), with where each
        was set. Raises ValueError naming the option."""
        def number(key: str) -> float | None:
            value = values.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"--{key.replace('_', '-')} must be a number, not {value!r}")
            return float(value)

        def whole(key: str) -> int | None:
            value = values.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value  # as given: through a float, 10**25 would not be
            number_ = number(key)
            if number_ is not None and number_ != int(number_):
                raise ValueError(f"--{key.replace('_', '-')} must be a whole number, not {number_:g}")
            return None if number_ is None else int(number_)

        fail_on = values.get("fail_on")
        policy = cls.build(
            fail_on=str(fail_on) if fail_on else None,
            max_counts={key: whole(f"max_{key}") for key in MAX_KEYS},
            at_least_counts={"total": whole("fail_on_count"),
                             **{key: whole(f"fail_on_{key}_count") for key in COUNTED_SEVERITIES}},
            fail_on_score=number("fail_on_score"),
            fail_on_kev=bool(values.get("fail_on_kev")),
            fail_on_exploit=bool(values.get("fail_on_exploit")),
            fail_on_epss=number("fail_on_epss"),
            only_network=bool(values.get("only_network")),
            only_live=bool(values.get("only_live")),
            ignore_unfixed=bool(values.get("ignore_unfixed")),
            ignores=ignores,
        )
        given = {key: where for key, where in (sources or {}).items() if given_value(values.get(key))}
        return replace(policy, vex=vex, sources=tuple(given.items()))

    def for_target(self, target: Target) -> Policy:
        """The policy that gates `target`: the first scope matching it, else this one."""
        return next((scope.policy for scope in self.scopes if scope.matches(target)), self)

    def source_of(self, field: str) -> str:
        """Where a criterion was set; the built-in threshold is `default`."""
        default = DEFAULT_SOURCE if field == "fail_on" and self.fail_on == Severity.CRITICAL else "option"
        return dict(self.sources).get(field, default)

    @classmethod
    def from_fail_on(cls, text: str) -> Policy:
        return cls(fail_on=parse_fail_on(text))

    @classmethod
    def build(
        cls,
        *,
        fail_on: str | None = None,
        max_counts: dict[str, int | None] | None = None,
        at_least_counts: dict[str, int | None] | None = None,
        fail_on_score: float | None = None,
        fail_on_kev: bool = False,
        fail_on_exploit: bool = False,
        fail_on_epss: float | None = None,
        only_network: bool = False,
        only_live: bool = False,
        ignore_unfixed: bool = False,
        ignores: tuple[IgnoreEntry, ...] = (),
    ) -> Policy:
        """Validated criteria; raises ValueError naming the option. The default `--fail-on critical`
        applies only when no criterion is given at all."""
        limits = {k: v for k, v in (max_counts or {}).items() if v is not None}
        for key, value in limits.items():
            if value < 0:
                raise ValueError(f"--max-{key} must be 0 or more, not {value}")
        # package-scanner's thresholds apply only when > 0: 0 and -1 switch them off.
        at_least = {k: v for k, v in (at_least_counts or {}).items() if v is not None and v > 0}
        if fail_on_score is not None and fail_on_score != fail_on_score:  # NaN: no number at all
            raise ValueError("--fail-on-score must be a number")
        score = fail_on_score if fail_on_score is not None and fail_on_score > 0 else None
        if score is not None and score > MAX_SCORE:
            raise ValueError(f"--fail-on-score must be at most {MAX_SCORE:g}, not {fail_on_score:g}")
        if fail_on_epss is not None and not 0 < fail_on_epss <= 1:
            raise ValueError(f"--fail-on-epss is a probability above 0 and at most 1, not {fail_on_epss:g}")
        # A limit on secrets or malware is about those kinds: it leaves the default threshold on vulnerabilities.
        vulnerability_limits = {k for k in limits if k not in KIND_LIMITS}
        others = bool(vulnerability_limits or at_least or score is not None or fail_on_kev or fail_on_exploit
                      or fail_on_epss is not None)
        threshold = parse_fail_on(fail_on) if fail_on else (None if others else Severity.CRITICAL)
        return cls(
            fail_on=threshold,
            max_counts=tuple((k, limits[k]) for k in MAX_KEYS if k in limits),
            at_least_counts=tuple((k, at_least[k]) for k in (*COUNTED_SEVERITIES, "total") if k in at_least),
            fail_on_score=score,
            fail_on_kev=fail_on_kev,
            fail_on_exploit=fail_on_exploit,
            fail_on_epss=fail_on_epss,
            only_network=only_network,
            only_live=only_live,
            ignore_unfixed=ignore_unfixed,
            ignores=ignores,
        )

    @property
    def threshold_label(self) -> str:
        return self.fail_on.label if self.fail_on is not None else "none"

    @cached_property
    def only_threshold(self) -> bool:
        """Whether the severity threshold is the only criterion (the reports word it as before)."""
        return self.criteria() in ([], [f"--fail-on {self.threshold_label}"])

    @cached_property
    def has_criteria(self) -> bool:
        return bool(self._criteria_in_force)

    def criteria(self) -> list[str]:
        """Each criterion in force, as its option: `--fail-on high`, `--max-critical 0`, `--fail-on-kev`."""
        return [text for _, text in self._criteria()]

    def criteria_sources(self) -> list[tuple[str, str]]:
        """Each criterion in force and where it was set (`default` for the built-in threshold); also a
        `--fail-on none` that someone set, since it switched the threshold off."""
        found = [(text, self.source_of(field)) for field, text in self._criteria()]
        switched_off = self.fail_on is None and "fail_on" in dict(self.sources)
        return [("--fail-on none", self.source_of("fail_on"))] * switched_off + found

    def narrowing_sources(self) -> list[tuple[str, str]]:
        """Each narrowing option in force and where it was set."""
        return [(f"--{field.replace('_', '-')}", self.source_of(field)) for field in NARROWING
                if getattr(self, field)]

    def _criteria(self) -> list[tuple[str, str]]:
        return list(self._criteria_in_force)

    @cached_property
    def _criteria_in_force(self) -> tuple[tuple[str, str], ...]:
        """Asked for every finding of every report: worked out once per policy (which is frozen)."""
        found = [("fail_on", f"--fail-on {self.threshold_label}")] if self.fail_on is not None else []
        found += [(f"max_{key}", f"--max-{key} {n}") for key, n in self.max_counts]
        for key, n in self.at_least_counts:
            field = "fail_on_count" if key == "total" else f"fail_on_{key}_count"
            found.append((field, f"--{field.replace('_', '-')} {n}"))
        if self.fail_on_score is not None:
            found.append(("fail_on_score", f"--fail-on-score {self.fail_on_score:g}"))
        found += [("fail_on_kev", "--fail-on-kev")] * self.fail_on_kev
        found += [("fail_on_exploit", "--fail-on-exploit")] * self.fail_on_exploit
        if self.fail_on_epss is not None:
            found.append(("fail_on_epss", f"--fail-on-epss {self.fail_on_epss:g}"))
        return tuple(found)

    def describe(self) -> str:
        return ", ".join(self.criteria()) or "--fail-on none"

    def narrowed_out(self, finding: Finding) -> str:
        """Why a vulnerability does not count (`--only-network`, `--only-live`); "" when it counts."""
        details = finding.details
        if details is None:  # other kinds have no such fields and are always kept
            return ""
        if self.only_network and details.network != "network":
            return "--only-network"
        if self.only_live and not details.live_connection:
            return "--only-live"
        return ""


@dataclass(frozen=True)
class Scope:
    """A policy for the targets whose image matches one of `images` (globs, as in the ignore file)."""

    images: tuple[str, ...]
    policy: Policy

    def matches(self, target: Target) -> bool:
        return any(image_matches(pattern, target) for pattern in self.images)


def given_value(value: object) -> bool:
    """Whether an option's value was given: None, False and "" are "not given"."""
    return value is not None and value is not False and value != ""


def parse_fail_on(text: str) -> Severity | None:
    text = text.strip().lower()
    if text not in FAIL_ON_CHOICES:
        raise ValueError(f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {text!r}")
    return None if text == "none" else Severity.parse(text)


@dataclass(frozen=True)
class RuleOutcome:
    """One criterion applied to one target: what was measured, the limit, whether it tripped."""

    rule: str
    """The option that sets it, e.g. `fail-on`, `max-high`, `fail-on-kev`."""
    limit: str
    measured: float
    tripped: bool
    findings: tuple[Finding, ...] = ()
    """The findings it counted, most severe first."""

    @cached_property
    def counted(self) -> frozenset[Finding]:
        """`findings` as a set, for asking about one finding among many thousands."""
        return frozenset(self.findings)


def measure(policy: Policy, counted: Sequence[Finding]) -> tuple[RuleOutcome, ...]:
    """Every criterion of `policy` on the findings that count."""
    ordered = sorted(counted, key=lambda f: f.sort_key)

    def by_severity(key: str) -> tuple[Finding, ...]:
        if key in KIND_LIMITS:
            return tuple(f for f in ordered if f.kind == KIND_LIMITS[key])
        return tuple(ordered) if key == "total" else tuple(f for f in ordered if f.severity.label == key)

    outcomes = []
    if policy.fail_on is not None:
        threshold = policy.fail_on
        hits = tuple(f for f in ordered if f.severity >= threshold)
        outcomes.append(RuleOutcome("fail-on", policy.threshold_label, len(hits), bool(hits), hits))
    for key, limit in policy.max_counts:
        hits = by_severity(key)
        outcomes.append(RuleOutcome(f"max-{key}", str(limit), len(hits), len(hits) > limit, hits))
    for key, limit in policy.at_least_counts:
        hits = by_severity(key)
        name = "fail-on-count" if key == "total" else f"fail-on-{key}-count"
        outcomes.append(RuleOutcome(name, str(limit), len(hits), len(hits) >= limit, hits))
    if policy.fail_on_score is not None:
        scored = tuple(f for f in ordered if f.details is not None and f.details.overall_score > 0)
        total = sum(f.details.overall_score for f in scored if f.details is not None)
        score = min(total / SCORE_DIVISOR, MAX_SCORE)  # compared unrounded, as package-scanner does
        shown = math.floor(score * 100 + 1e-9) / 100  # cut, not rounded: 7.996 must not read as the limit 8
        outcomes.append(RuleOutcome("fail-on-score", f"{policy.fail_on_score:g}", shown,
                                    score >= policy.fail_on_score, scored))
    if policy.fail_on_kev:
        hits = tuple(f for f in ordered if f.details is not None and f.details.cisa_kev)
        outcomes.append(RuleOutcome("fail-on-kev", "any", len(hits), bool(hits), hits))
    if policy.fail_on_exploit:
        hits = tuple(f for f in ordered if f.details is not None and f.details.exploit_poc.strip())
        outcomes.append(RuleOutcome("fail-on-exploit", "any", len(hits), bool(hits), hits))
    if policy.fail_on_epss is not None:
        epss = policy.fail_on_epss
        hits = tuple(f for f in ordered if f.details is not None and f.details.epss_score >= epss)
        outcomes.append(RuleOutcome("fail-on-epss", f"{epss:g}", len(hits), bool(hits), hits))
    return tuple(outcomes)
