"""Deterministic `ModelSecret` records, as the console stores SecretScanner's findings.

The rule id is `index-<rule name>`; the node id is `<rule id>:<file>` with `/`, `:` and `.` replaced by `_`
(`ScanIDReplacer`). Levels and scores follow SecretScanner: low up to 2.5, medium up to 7.5, high above, at
most 10; there is no critical. Every matched content is an obviously fake value, never a live-looking secret.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

LEVELS = ("high", "medium", "low")
_ID_REPLACER = str.maketrans({"/": "_", ":": "_", ".": "_"})
# (rule name, file, matched content) per level; a file rule matches the file name, the others its content.
_RULES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "high": (
        ("aws_access_key_id", "/app/.env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"),
        ("rsa_private_key", "/root/.ssh/id_rsa", "-----BEGIN RSA PRIVATE KEY-----"),
        ("github_personal_access_token", "/app/config/settings.yaml", "github_token: ghp_EXAMPLE_NOT_A_REAL_TOKEN"),
        ("aws_secret_access_key", "/root/.aws/credentials", "aws_secret_access_key = EXAMPLE-NOT-A-REAL-KEY"),
    ),
    "medium": (
        ("password_in_config", "/app/config/database.yml", "password: example-password-not-real"),
        ("credentials_in_url", "/app/config/settings.yaml", "https://ci-bot:EXAMPLE-PASSWORD@registry.example.com"),
        ("docker_registry_auth", "/root/.docker/config.json", '"auth": "EXAMPLE-NOT-A-REAL-AUTH"'),
    ),
    "low": (
        ("shell_history_file", "/root/.bash_history", ".bash_history"),
        ("npm_config_file", "/app/.npmrc", ".npmrc"),
        ("htpasswd_file", "/etc/nginx/.htpasswd", ".htpasswd"),
    ),
}
_SCORES = {"high": (7.51, 10.0), "medium": (2.51, 7.5), "low": (1.0, 2.5)}
Rule = TypeVar("Rule", bound=Sequence[Any])


def shuffled_slots(
    rng: random.Random, counts: Mapping[str, int], masked: Mapping[str, int], kind: str
) -> list[tuple[str, bool]]:
    """One (level, masked) pair per finding, in a seeded order; the scanners know high, medium and low only."""
    unknown = (set(counts) | set(masked)) - set(LEVELS)
    if unknown:
        raise ValueError(f"{kind} findings are high, medium or low, not {sorted(unknown)}")
    slots = [(level, False) for level in LEVELS for _ in range(counts.get(level, 0))]
    slots += [(level, True) for level in LEVELS for _ in range(masked.get(level, 0))]
    rng.shuffle(slots)
    return slots


def place(rules: Sequence[Rule], used: set[tuple[str, str]]) -> tuple[Rule, str]:
    """The next rule of a level and the file it matched, no (rule, file) pair twice: once a level's rules
    are all taken, they match again in other release directories."""
    free = [rule for rule in rules if (rule[0], rule[1]) not in used]
    rule = free[0] if free else rules[len(used) % len(rules)]
    path = rule[1] if free else f"/srv/release-{len(used)}{rule[1]}"
    used.add((rule[0], path))
    return rule, path


def generate_secrets(
    seed: str, counts: Mapping[str, int], masked: Mapping[str, int], updated_at: int
) -> list[dict[str, Any]]:
    """`counts` unmasked plus `masked` masked secrets (by level), in a seeded, mixed order."""
    rng = random.Random(f"secret:{seed}")
    used: set[tuple[str, str]] = set()
    found = []
    for level, is_masked in shuffled_slots(rng, counts, masked, "secret"):
        (name, _, content), path = place(_RULES[level], used)
        rule_id = f"index-{name}"
        found.append(
            {
                "node_id": f"{rule_id}:{path}".translate(_ID_REPLACER),
                "starting_index": 0 if path.endswith(content) else rng.randint(0, 2048),
                "full_filename": path,
                "matched_content": content,
                "masked": is_masked,
                "updated_at": updated_at,
                "level": level,
                "score": round(rng.uniform(*_SCORES[level]), 2),
                "rule_id": rule_id,
                "resources": None,  # never filled in by the results query
            }
        )
    return found
