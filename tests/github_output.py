"""Reading $GITHUB_OUTPUT as the GitHub runner does, for the tests of ci-scan's step outputs."""

from __future__ import annotations


def parse_github_output(text: str) -> dict[str, str]:
    """`name=value` lines, or `name<<delimiter` ... `delimiter`; the last value of a name wins."""
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs
