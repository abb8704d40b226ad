"""A Markdown summary of the run: GitHub's job summary, a GitLab merge-request note, or any viewer.

It carries what the terminal summary (`ci_scan.summary`) says, in the same words (`ci_scan.wording`):

    ## ❌ ci-scan: Gate FAILED (--fail-on high): <the run's reason>
    Policy: --fail-on high (option)             (and a line per policy-file scope)
    N target(s) on <console>
    | Target | Scan | Critical | High | Medium | Low | Unknown | Masked | Verdict |   (a total row when several)
    ### Findings that fail the gate (N)         (at most 50 rows, then "…and N more")
    <how many of them can be fixed>
    | Severity | ID | Package | Installed | Fixed in | Path | Target | Why it fails |
    <details> Most severe findings that do not fail the gate (at most 10) </details>
    ### Not counted                             (per disposition: masked, vex, ignored, existing, unfixed, expired)
    ### VEX statements applied
    ### Incomplete targets                      (incomplete and timed-out targets with their reasons)
    ### Notes and warnings
    <details> How to accept a finding </details>

When nothing fails it says so and lists the most severe findings (at most 10), as the terminal does;
when some fail, those others are collapsed under the failing ones. Masked findings are never listed.
Path and Target columns are there only when a finding has a path or the run has several targets.

Every piece of text is made safe for Markdown, as console text is untrusted: first as for a CI log
(`sanitize.for_log`: control characters and escape sequences removed or shown escaped, `##[` broken
up), with line breaks as spaces; then Markdown's own characters are escaped (backslash, or an HTML
entity for `|`, `<`, `>` and `&`, so no raw HTML and no extra table cell), a zero-width joiner is put
after `@` (no mention pings) and after `#`, `!`, `$`, `&` before a digit (no issue, merge-request,
snippet or epic references), and `://` and `www.` are broken up so no bare URL becomes a link. Links
are made only to http(s) URLs, percent-encoded for Markdown's link syntax.

The output is at most `max_bytes` (1,000,000) bytes of UTF-8, under GitHub's limit of 1 MiB per step
summary: rows are cut from the end of the largest of the findings table, the targets table and the
lists until it fits (the findings table first when sizes tie), each saying how many rows it left out.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ci_scan import wording
from ci_scan.decision import SUPPRESSED, Decision, Disposition, TargetDecision, Verdict
from ci_scan.formats.base import report_key, target_labels
from ci_scan.formats.text import UNNAMED_COMPONENT, shorten
from ci_scan.models import Finding, Severity
from ci_scan.sanitize import for_log

MAX_BYTES = 1_000_000
"""GitHub takes at most 1 MiB per step summary; this leaves room for what other steps append."""
MAX_FAILING_ROWS = 50
TOP_FINDINGS = 10
"""Most severe findings listed when none fails, as the terminal summary lists."""
CELL_CHARS = 300
"""Characters of a console value (id, package, version, path) kept in a table cell."""
REASON_CHARS = 1_000
LINE_CHARS = 5_000
"""Characters of a list item (a warning, an incomplete target's reason) kept."""
URL_CHARS = 2_000
"""A longer link is shown as text."""

ICONS: dict[Verdict, str] = {"passed": "✅", "failed": "❌", "incomplete": "⚠️", "timed_out": "⏳"}
SEVERITIES = sorted(Severity, reverse=True)
NONE = "—"
"""A cell with nothing to say (no scan, no fixed version, no count for a target that was not completed)."""
ZWJ = "\u200d"

_LINE_BREAKS = re.compile("\r\n|[\r\n\t\v\f\u2028\u2029]")
_MARKDOWN = re.compile(r"[\\`*_\[\]~$#|<>&@!]")
_ESCAPES = {"|": "&#124;", "<": "&lt;", ">": "&gt;", "&": "&amp;", "@": "@", "!": "!"}
"""How each of `_MARKDOWN` is written when not as itself after a backslash (`@` and `!` only get a joiner)."""
_REFERENCE_BEFORE_DIGIT = frozenset("#!$&")
"""`#123` (an issue), `!123` (a merge request), `$123` (a snippet), `&123` (an epic) link on GitHub or GitLab."""
_BARE_URL = re.compile(r"(?<=[A-Za-z0-9])(?=://)|(?<![A-Za-z0-9])((?i:www))(?=\.)")
_LIST_START = re.compile(r"(?:[-+=]|[0-9]{1,9}[.)])(?=[ =+-]|$)")
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$*+,;=")
_HEX = frozenset("0123456789abcdefABCDEF")


def text(value: str, limit: int | None = None, *, bare_urls: bool = False) -> str:
    """Any text (console text above all) as inline Markdown that shows it literally, on one line.

    `bare_urls` keeps URLs whole, for the text of a link (where nothing else becomes a link).
    """
    value = for_log(_LINE_BREAKS.sub(" ", value)).strip()
    if limit is not None:
        value = shorten(value, limit)
    if not bare_urls:
        value = _BARE_URL.sub(lambda m: (m.group(1) or "") + ZWJ, value)
    value = _MARKDOWN.sub(_escape, value)
    start = _LIST_START.match(value)  # what would start a list or a heading underline at a line's start
    if start:
        value = f"{value[: start.end() - 1]}\\{value[start.end() - 1 :]}"
    return value


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    escaped = _ESCAPES.get(char, "\\" + char)
    following = match.string[match.end() : match.end() + 1]
    if (char == "@" and (following.isalnum() or following in "_-")) or (
        char in _REFERENCE_BEFORE_DIGIT and following.isdigit()
    ):
        escaped += ZWJ
    return escaped


def link_destination(url: str) -> str | None:
    """`url` percent-encoded for a Markdown link's destination; None unless it is a plain http(s) URL."""
    url = url.strip()
    if not url or len(url) > URL_CHARS:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    out = []
    for index, char in enumerate(url):
        if char in _URL_SAFE:
            out.append(char)
        elif char == "&":
            out.append("&amp;")  # Markdown reads entities in a destination: this is `&` again
        elif char == "%" and url[index + 1 : index + 2] in _HEX and url[index + 2 : index + 3] in _HEX:
            out.append(char)  # already percent-encoded
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def link(label: str, url: str) -> str:
    """`[label](url)` when `url` is http(s), else the label alone; `label` is Markdown already."""
    destination = link_destination(url)
    return f"[{label}]({destination})" if destination and label else label


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass
class _Block:
    """Lines of the document; `rows` may be cut to fit the size limit, `more` then says how many were."""

    lines: list[str]
    rows: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    omitted: int = 0
    """Rows left out before any cut (beyond a table's cap)."""
    more: Callable[[int, bool], list[str]] | None = None
    """The lines saying that n rows were left out, and whether some were cut for size."""
    cut: int = 0

    def render(self) -> list[str]:
        left_out = self.omitted + self.cut
        more = self.more(left_out, self.cut > 0) if self.more and left_out else []
        return [*self.lines, *self.rows, *more, *self.after]


def _size(lines: Sequence[str]) -> int:
    return sum(len(line.encode("utf-8", "surrogatepass")) + 1 for line in lines)


def _size_note(cut: bool, limit: int) -> str:
    return f" (cut to keep this summary under {limit:,} bytes)" if cut else ""


class MarkdownFormat:
    name = "markdown"
    description = "A Markdown summary (GitHub job summary, GitLab merge-request note): the gate, targets, findings"
    default_filename = "ci-scan.md"

    def __init__(self, max_bytes: int = MAX_BYTES, max_rows: int = MAX_FAILING_ROWS, top: int = TOP_FINDINGS) -> None:
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.top = top

    def render(self, decision: Decision) -> str:
        labels = dict(zip((id(t) for t in decision.targets),
                          target_labels([t.result.target for t in decision.targets]), strict=True))
        (findings, others), targets = self._findings(decision, labels), self._targets(decision, labels)
        lists = [self._vex(decision), self._incomplete(decision, labels), self._notes(decision, labels)]
        blocks = [self._head(decision, labels), targets, findings, others, self._suppressed(decision), *lists,
                  self._hint(decision)]
        return self._fit(blocks, [findings, targets, others, *reversed(lists)])

    def _fit(self, blocks: list[_Block], cuttable: list[_Block]) -> str:
        """The document, with rows cut from the end of the largest of `cuttable` until it fits `max_bytes`."""
        total = sum(_size(block.render()) for block in blocks)
        rows = [_size(block.rows) for block in cuttable]
        notes = [self._more_size(block) for block in cuttable]
        while total > self.max_bytes:
            left = [i for i, block in enumerate(cuttable) if block.rows]
            if not left:
                break
            i = max(left, key=lambda i: rows[i])  # the largest first; on a tie the first in `cuttable`
            block = cuttable[i]
            removed = _size(block.rows[-1:])
            block.rows.pop()
            block.cut += 1
            note = self._more_size(block)
            rows[i] -= removed
            total += note - notes[i] - removed
            notes[i] = note
        lines = [line for block in blocks for line in block.render()]
        while lines and not lines[-1]:
            lines.pop()
        document = "\n".join(lines) + "\n"
        if _size(lines) <= self.max_bytes:
            return document
        # Still too large (a huge reason or title): cut at a line and say so, whatever it breaks.
        ending = f"\n_…the rest was cut to keep this summary under {self.max_bytes:,} bytes._\n"
        room = max(self.max_bytes - len(ending.encode("utf-8")), 0)
        head = document.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
        return head[: head.rfind("\n") + 1] + ending

    @staticmethod
    def _more_size(block: _Block) -> int:
        left_out = block.omitted + block.cut
        return _size(block.more(left_out, block.cut > 0)) if block.more and left_out else 0

    def _head(self, decision: Decision, labels: dict[int, str]) -> _Block:
        gate = wording.gate_line(decision.verdict, decision.criteria_label(), decision.reason)
        lines = [f"## {ICONS[decision.verdict]} ci-scan: {text(gate)}", "",
                 text(wording.policy_line(decision.gate_policy))]
        scoped = [f"- {text(labels[id(t)])}: {text(wording.scope_line(t.policy))}" for t in decision.targets
                  if t.policy.scope]
        lines += ["", *scoped] if scoped else []
        console = decision.run.console_url
        where = (link(text(console, bare_urls=True), console) if link_destination(console) else text(console)) \
            if console else "the console"
        return _Block([*lines, "", f"{len(decision.targets)} target(s) on {where}", ""])

    def _targets(self, decision: Decision, labels: dict[int, str]) -> _Block:
        if not decision.targets:
            return _Block([])
        header = ["Target", "Scan", *(s.label.capitalize() for s in SEVERITIES), "Masked", "Verdict"]
        block = _Block([_row(header), _row(["---", "---", *["---:"] * (len(SEVERITIES) + 1), "---"])])
        for target in decision.targets:
            result = target.result
            counts = ([str(n) for n in result.counts().values()] + [str(len(result.masked))] if result.completed
                      else [NONE] * (len(SEVERITIES) + 1))
            block.rows.append(_row([text(labels[id(target)], CELL_CHARS), text(result.scan_id, CELL_CHARS) or NONE,
                                    *counts, _verdict(target.verdict)]))
        if len(decision.targets) > 1:
            masked = sum(len(t.result.masked) for t in decision.targets)
            block.after.append(_row(["**All targets**", "", *(str(n) for n in decision.counts().values()),
                                     str(masked), _verdict(decision.verdict)]))
        block.after.append("")

        def more(n: int, cut: bool) -> list[str]:
            return [_row([f"_…and {n} more target(s){_size_note(cut, self.max_bytes)}_", "",
                          *[""] * (len(SEVERITIES) + 1), ""])]

        block.more = more
        return block

    def _findings(self, decision: Decision, labels: dict[int, str]) -> tuple[_Block, _Block]:
        """The failing findings' table, and (collapsed) the most severe of the others; or, when none
        fails, the most severe findings, as the terminal summary lists them."""
        others = [(t, f) for t in decision.targets if t.result.completed
                  for failing in [frozenset(t.failing)] for f in t.result.active if f not in failing]
        others.sort(key=lambda pair: report_key(pair[1]))  # stable: ties keep the run's order of targets
        if not decision.failing:
            intro = [text(wording.NOTHING_FAILS), ""]
            if not others:
                return _Block(intro), _Block([])
            table = self._table(others, self.top, "Why it does not fail", labels, len(decision.targets) > 1)
            table.lines = [f"### Most severe findings ({self._count(others, self.top)})", "", *intro, *table.lines]
            return table, _Block([])
        pairs = list(decision.failing)
        fixable = sum(1 for _, f in pairs if f.fixed_in.strip())
        table = self._table(pairs, self.max_rows, "Why it fails", labels, len(decision.targets) > 1)
        table.lines = [f"### Findings that fail the gate ({self._count(pairs, self.max_rows)})", "",
                       text(wording.fixable_line(fixable, len(pairs))), "", *table.lines]
        if not others:
            return table, _Block([])
        rest = self._table(others, self.top, "Why it does not fail", labels, len(decision.targets) > 1)
        title = f"Most severe findings that do not fail the gate ({self._count(others, self.top)})"
        rest.lines = ["<details>", f"<summary>{title}</summary>", "", *rest.lines]
        rest.after = ["", "</details>", ""]
        return table, rest

    @staticmethod
    def _count(pairs: Sequence[object], cap: int) -> str:
        return f"first {cap} of {len(pairs)}" if len(pairs) > cap else str(len(pairs))

    def _table(self, pairs: Sequence[tuple[TargetDecision, Finding]], cap: int, why: str, labels: dict[int, str],
               several: bool) -> _Block:
        shown = pairs[:cap]
        paths = any(f.location for _, f in shown)
        header = ["Severity", "ID", "Package", "Installed", "Fixed in", *["Path"] * paths, *["Target"] * several, why]
        block = _Block([_row(header), _row(["---"] * len(header))], omitted=len(pairs) - len(shown), after=[""])
        for target, finding in shown:
            cells = [finding.severity.label, link(text(finding.rule_id, CELL_CHARS), finding.link) or NONE,
                     text(finding.package_name or UNNAMED_COMPONENT[finding.kind], CELL_CHARS),
                     text(finding.package_version, CELL_CHARS) or NONE, text(finding.fixed_in, CELL_CHARS) or NONE]
            cells += [text(finding.location, CELL_CHARS) or NONE] * paths
            cells += [text(labels[id(target)], CELL_CHARS)] * several
            block.rows.append(_row([*cells, text(target.reason_for(finding), REASON_CHARS)]))

        def more(n: int, cut: bool) -> list[str]:
            return ["", f"_…and {n} more{_size_note(cut, self.max_bytes)}._"]

        block.more = more
        return block

    def _suppressed(self, decision: Decision) -> _Block:
        totals: dict[Disposition, int] = dict.fromkeys((*SUPPRESSED, "expired"), 0)
        for target in decision.targets:
            for finding in target.result.findings:
                disposition = target.disposition(finding)
                if disposition in totals:
                    totals[disposition] += 1
        baseline = decision.baseline.source if decision.baseline else ""
        items = [f"- {text(wording.disposition_count(d, n, baseline))}" for d, n in totals.items() if n]
        return _Block(["### Not counted", "", *items, ""] if items else [])

    def _vex(self, decision: Decision) -> _Block:
        return _list("VEX statements applied", [text(wording.vex_line(s), LINE_CHARS) for s in decision.vex_applied],
                     self.max_bytes)

    def _incomplete(self, decision: Decision, labels: dict[int, str]) -> _Block:
        items = []
        for target in decision.targets:
            if not target.result.completed:
                heading = "Timed out" if target.verdict == "timed_out" else "Incomplete"
                label = text(labels[id(target)], CELL_CHARS)
                items.append(f"**{heading}:** {label}: {text(target.reason, LINE_CHARS)}")
        return _list("Incomplete targets", items, self.max_bytes)

    def _notes(self, decision: Decision, labels: dict[int, str]) -> _Block:
        several = len(decision.targets) > 1
        items = []
        for target in decision.targets:
            label = f"{text(labels[id(target)], CELL_CHARS)}: " if several else ""
            items += [f"**Note:** {label}{text(n, LINE_CHARS)}" for n in target.result.notes]
            items += [f"**Warning:** {label}{text(w, LINE_CHARS)}" for w in target.result.warnings]
        items += [f"**Warning:** {text(w, LINE_CHARS)}" for w in (*decision.run.warnings, *decision.warnings)]
        return _list("Notes and warnings", items, self.max_bytes)

    def _hint(self, decision: Decision) -> _Block:
        if not decision.failing:
            return _Block([])
        target, finding = decision.failing[0]
        files = [entry.where.rpartition(" line ")[0] for entry in decision.policy.ignores]
        first, *example = wording.ignore_hint(finding, target.result.target.repository,
                                              target.expired.get(finding), *files[:1])
        lines = ["<details>", "<summary>How to accept a finding</summary>", "", text(first, LINE_CHARS), ""]
        if example:
            # In a code block Markdown is not read: only lines made one each, as for a CI log.
            code = textwrap.dedent("\n".join(for_log(_LINE_BREAKS.sub(" ", line)) for line in example)).split("\n")
            longest = max((len(run) for line in code for run in re.findall("`+", line)), default=0)
            fence = "`" * max(3, longest + 1)
            lines += [fence + "yaml", *(line[: LINE_CHARS] for line in code), fence, ""]
        return _Block([*lines, "</details>", ""])


def _verdict(verdict: Verdict) -> str:
    return f"{ICONS[verdict]} {wording.verdict_title(verdict)}"


def _list(title: str, items: list[str], limit: int) -> _Block:
    if not items:
        return _Block([])

    def more(n: int, cut: bool) -> list[str]:
        return [f"- _…and {n} more{_size_note(cut, limit)}_"]

    return _Block([f"### {title}", ""], rows=[f"- {item}" for item in items], after=[""], more=more)
