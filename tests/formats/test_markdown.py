"""The Markdown summary: the terminal summary's information and words, safe from console text, under 1 MiB."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import replace

import pytest

from ci_scan import wording
from ci_scan.baseline import Baseline
from ci_scan.decision import Decision, Disposition, Policy, decide
from ci_scan.formats import report
from ci_scan.formats.markdown import MAX_BYTES, MAX_FAILING_ROWS, MarkdownFormat, link_destination, text
from ci_scan.ignores import IgnoreEntry
from ci_scan.models import RunResult, Severity, TargetResult
from ci_scan.sanitize import for_log
from ci_scan.summary import render_summary
from ci_scan.vex import Product, VexStatement
from tests.formats.helpers import LARGE_SIZE, assert_golden, image_target, only, vulnerability, with_target
from tests.formats.helpers import decide as decide_at

"""Read at import: the autouse fixture that cleans the environment removes every CI_SCAN_ variable."""
FIXTURES = ("sample_run", "multi_run", "nasty_run", "empty_run", "large_run", "many_repositories_run")
ZWJ = "\u200d"
OUR_TAGS = ("<details>", "</details>", "<summary>How to accept a finding</summary>", "<summary>", "</summary>")
OUR_MARKUP = ("**Warning:**", "**Note:**", "**Incomplete:**", "**Timed out:**", "**All targets**")
_LINK = re.compile(r"(?<!\\)((?:\\\\)*)\[((?:\\.|[^\\\[\]])*)\]\(([^()\s]*)\)")
"""A link: an unescaped `[`, its label, `](`, its destination, `)`."""
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])|&(?:amp|lt|gt|#124);")


def render(decision: Decision) -> str:
    return MarkdownFormat().render(decision)


def unescape(markdown: str) -> str:
    """What a reader sees of the text that `text()` made: escapes and entities undone, joiners gone."""
    return _UNESCAPE.sub(lambda m: m.group(1) or html.unescape(m.group()), markdown).replace(ZWJ, "")


def tables(markdown: str) -> list[list[str]]:
    """Every table: its runs of consecutive lines starting with `|`."""
    found: list[list[str]] = []
    previous = False
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous:
                found.append([])
            found[-1].append(line)
        previous = line.startswith("|")
    return found


def table_after(markdown: str, heading_start: str) -> list[list[str]]:
    """The cells of the body rows of the table after the heading that starts so."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading_start))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # header and delimiter row


def outside_code(markdown: str) -> str:
    """The document without its fenced code blocks (Markdown is not read there)."""
    return re.sub(r"^(`{3,})yaml\n.*?^\1$", "", markdown, flags=re.S | re.M)


def link_label(cell: str) -> str:
    match = re.fullmatch(r"\[(.*)\]\((.*)\)", cell)
    return match.group(1) if match else cell


def title_text(markdown: str) -> str:
    first = markdown.splitlines()[0]
    assert re.match(r"## \S+ ci-scan: ", first), first
    return unescape(first.split(" ci-scan: ", 1)[1])


def summary_line(decision: Decision, start: str) -> str:
    return next(line for line in render_summary(decision).splitlines() if line.startswith(start))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_fixture_renders(fixture: str, request: pytest.FixtureRequest) -> None:
    run: RunResult = request.getfixturevalue(fixture)
    decision = decide_at(run, "high")
    markdown = render(decision)
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")
    assert markdown == render(decision)  # deterministic
    assert len(markdown.encode("utf-8")) <= MAX_BYTES
    for table in tables(markdown):
        assert len({line.count("|") for line in table}) == 1, table
    # The verdict line and the policy line are the terminal summary's, word for word.
    assert title_text(markdown) == summary_line(decision, "Gate ")
    assert unescape(markdown.splitlines()[2]) == summary_line(decision, "Policy: ")


def test_the_registry_loads_it() -> None:
    spec = report("markdown")
    renderer = spec.load()
    assert isinstance(renderer, MarkdownFormat)
    assert renderer.name == spec.name and renderer.default_filename == spec.default_filename


@pytest.mark.parametrize("fixture", ["sample_run", "multi_run"])
def test_golden(fixture: str, request: pytest.FixtureRequest) -> None:
    assert_golden(f"{fixture.removesuffix('_run')}.md", render(decide_at(request.getfixturevalue(fixture), "high")))


def test_a_row_per_target_with_counts_and_verdict(multi_run: RunResult) -> None:
    decision = decide_at(multi_run, "high")
    rows = table_after(render(decision), "5 target(s) on ")
    assert [row[0] for row in rows] == [t.target.name for t in multi_run.targets] + ["**All targets**"]
    assert rows[0] == ["registry.example.com/team/app:1.4.2", multi_run.targets[0].scan_id,
                       "2", "1", "1", "1", "1", "1", "❌ failed"]
    assert rows[3][2:] == ["—"] * 6 + ["⚠️ could not be completed"]
    assert rows[4][-1] == "⏳ timed out"
    overall = [str(n) for n in decision.counts().values()]
    assert rows[-1] == ["**All targets**", "", *overall, "1", "❌ failed"]


def test_incomplete_and_timed_out_targets_say_why(multi_run: RunResult) -> None:
    decision = decide_at(multi_run, "high")
    markdown = render(decision)
    worker, api = decision.targets[3], decision.targets[4]
    assert f"- **Incomplete:** registry.example.com/team/worker:3.1: {text(worker.reason)}\n" in markdown
    assert f"- **Timed out:** quay.io/acme/api:2.1: {text(api.reason)}\n" in markdown
    assert "(last status IN\\_PROGRESS)" in markdown
    assert "- **Warning:** quay.io/acme/api:2.0: the console returned 1 duplicate row\n" in markdown
    assert "- **Warning:** the console did not report its version\n" in markdown
    assert "- **Note:** registry.example.com/team/app:1.5.0: reused a scan" in markdown


def test_a_single_incomplete_target(sample_run: RunResult) -> None:
    run = with_target(sample_run, findings=(), status="ERROR", error="the console reported ERROR: no <space> left")
    decision = decide_at(run, "high")
    markdown = render(decision)
    assert markdown.startswith("## ⚠️ ci-scan: Gate INCOMPLETE (--fail-on high): the scan could not be completed: ")
    assert title_text(markdown) == summary_line(decision, "Gate ")
    assert "no &lt;space&gt; left" in markdown and "<space>" not in markdown
    assert wording.NOTHING_FAILS in markdown and "<details>" not in markdown


def failing_run(n: int) -> RunResult:
    """`n` failing findings over three targets, with ties in severity and score across targets."""
    targets = []
    for t in range(3):
        findings = tuple(
            vulnerability(f"CVE-2024-{i:04d}", [Severity.CRITICAL, Severity.HIGH][i % 2], f"lib{i}:1.{t}",
                          score=float(i % 3), fixed_in="2.0" if i % 4 == 0 else "", result_id=f"t{t}-{i}")
            for i in range(t, n, 3)
        )
        targets.append(TargetResult(target=image_target(f"registry.example.com/team/app-{t}:1.0"), scan_id=f"s{t}",
                                    status="COMPLETE", findings=findings))
    return RunResult(targets=tuple(targets), console_url="https://console.example.com")


@pytest.mark.parametrize("n", [7, MAX_FAILING_ROWS, 120])
def test_the_failing_findings_are_decision_failing_in_order_capped(n: int) -> None:
    decision = decide_at(failing_run(n), "high")
    assert len(decision.failing) == n
    markdown = render(decision)
    shown = min(n, MAX_FAILING_ROWS)
    heading = f"### Findings that fail the gate ({f'first {shown} of {n}' if n > shown else n})"
    assert heading + "\n" in markdown
    rows = table_after(markdown, heading)
    expected = [(f.rule_id, f.package_name, f.package_version, target.result.target.name)
                for target, f in decision.failing[:shown]]
    assert [(unescape(link_label(r[1])), unescape(r[2]), unescape(r[3]), unescape(r[5])) for r in rows] == expected
    assert [r[-1] for r in rows] == [text(t.reason_for(f)) for t, f in decision.failing[:shown]]
    more = f"_…and {n - shown} more._"
    assert (more in markdown) is (n > shown)
    fixable = sum(1 for _, f in decision.failing if f.fixed_in)
    assert text(wording.fixable_line(fixable, n)) + "\n" in markdown


def test_a_failing_run_shows_how_to_accept_a_finding(sample_run: RunResult) -> None:
    markdown = render(decide_at(sample_run, "high"))
    hint = markdown[markdown.rindex("<details>") :]
    assert hint.endswith("</details>\n")
    assert "```yaml\nignore:\n  - id: CVE-2024-0001\n    package: openssl\n" in hint


def test_a_passing_run_says_nothing_fails_and_shows_the_most_severe(sample_run: RunResult) -> None:
    findings = tuple(vulnerability(f"CVE-2024-{i:04d}", [Severity.MEDIUM, Severity.LOW][i % 2], f"lib{i}:1",
                                   score=i / 2, result_id=f"p{i}") for i in range(15))
    decision = decide_at(with_target(sample_run, findings=findings), "high")
    assert decision.passed
    markdown = render(decision)
    assert markdown.startswith("## ✅ ci-scan: Gate PASSED (--fail-on high): no finding at or above high\n")
    assert f"\n{wording.NOTHING_FAILS}\n" in markdown
    heading = "### Most severe findings (first 10 of 15)"
    rows = table_after(markdown, heading)
    terminal = [line.split()[1] for line in render_summary(decision).splitlines()[3:13]]
    assert [r[1] for r in rows] == terminal  # the same ten, in the same order, as the terminal summary
    assert {r[-1] for r in rows} == {"below the --fail-on threshold high"}
    assert "<details>" not in markdown and "Findings that fail the gate" not in markdown


def test_what_was_not_counted_and_why() -> None:
    image = "registry.example.com/team/app:1.4.2"
    findings = (
        vulnerability("CVE-2024-0001", Severity.CRITICAL, "a:1", fixed_in="2", masked=True),
        vulnerability("CVE-2024-0002", Severity.CRITICAL, "b:1", fixed_in="2"),
        vulnerability("CVE-2024-0003", Severity.CRITICAL, "c:1", fixed_in="2"),
        vulnerability("CVE-2024-0004", Severity.CRITICAL, "d:1", fixed_in="2"),
        vulnerability("CVE-2024-0005", Severity.CRITICAL, "e:1"),
        vulnerability("CVE-2024-0006", Severity.HIGH, "f:1", fixed_in="2"),
        vulnerability("CVE-2024-0007", Severity.CRITICAL, "g:1", fixed_in="2"),
    )
    statement = VexStatement(vulnerability="CVE-2024-0002", aliases=(), products=(Product((image,)),),
                             status="not_affected", justification="vulnerable_code_not_present",
                             impact_statement="", action_statement="", timestamp=None, where="vex.json statement 1")
    ignores = (IgnoreEntry(id="CVE-2024-0003", reason="reviewed", where=".ci-scan-ignore.yml line 2"),
               IgnoreEntry(id="CVE-2024-0006", reason="old", expires=dt.date(2026, 1, 1),
                           where=".ci-scan-ignore.yml line 5"))
    policy = replace(Policy.build(fail_on="critical", ignore_unfixed=True, ignores=ignores), vex=(statement,))
    run = RunResult(targets=(TargetResult(image_target(image), "scan-1", "COMPLETE", findings),))
    decision = decide(run, policy, today=dt.date(2026, 12, 1), baseline=Baseline.of("scan old", [findings[3]]))
    markdown = render(decision)
    section = markdown[markdown.index("### Not counted\n") :].split("\n\n")[1].splitlines()
    counts: dict[Disposition, int] = {"masked": 1, "vex": 1, "ignored": 1, "existing": 1, "unfixed": 1, "expired": 1}
    assert section == [f"- {text(wording.disposition_count(d, n, 'scan old'))}" for d, n in counts.items()]
    assert "- 1 already in the baseline (scan old)" in section
    assert f"### VEX statements applied\n\n- {text(wording.vex_line(statement))}\n" in markdown
    assert "expired on 2026-01-01" in markdown  # the run's warnings
    assert [unescape(link_label(r[1])) for r in table_after(markdown, "### Findings that fail")] == ["CVE-2024-0007"]


HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> &lt;b&gt; @octocat @org/team hi@example.com "
    "#123 GH!45 $6 &7 [click](https://evil.example/x) ![i](https://evil.example/i.png) https://evil.example "
    "www.evil.example | a | b | `code` **bold** _em_ ~~del~~ $x$ \\| back\\slash\n# heading\r\n- item\n1. one "
    "<!-- c --> ]]> ::error::x ##[warning]y ##vso[task.setvariable]z \x1b[31mred\x1b[0m \u202e \ud800"
)


@pytest.fixture
def hostile_run(nasty_run: RunResult) -> RunResult:
    result = only(nasty_run)
    findings = tuple(replace(f, rule_id=f"{f.rule_id} {HOSTILE}", component=f"{HOSTILE}:{HOSTILE}",
                             fixed_in=HOSTILE, location=HOSTILE, link=f.link if i % 2 else HOSTILE)
                     for i, f in enumerate(result.findings))
    error_target = TargetResult(target=image_target("registry.example.com/team/worker:3.1"), scan_id=HOSTILE,
                                status="ERROR", error=HOSTILE, notes=(HOSTILE,), warnings=(HOSTILE,))
    timed_out = replace(error_target, error="", status=HOSTILE, timed_out=True)
    return replace(nasty_run, targets=(replace(result, findings=findings, scan_id=HOSTILE, warnings=(HOSTILE,)),
                                       error_target, timed_out), warnings=(HOSTILE,))


@pytest.mark.parametrize("fixture", ["nasty_run", "hostile_run"])
def test_console_text_cannot_inject(fixture: str, request: pytest.FixtureRequest) -> None:
    run: RunResult = request.getfixturevalue(fixture)
    markdown = render(decide_at(run, "high"))
    markdown.encode("utf-8")  # no lone surrogate
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", markdown)
    prose = outside_code(markdown)
    # No HTML but ours: every `<` left is one of our own tags.
    for tag in OUR_TAGS:
        prose = prose.replace(tag, "")
    assert "<" not in prose and ">" not in prose
    # Tables keep their columns: a console `|` is never a cell delimiter.
    for table in tables(markdown):
        assert len({line.count("|") for line in table}) == 1, table
    # No mention, no issue or merge-request reference, no link, no markup from the console.
    assert not re.search(r"@(?!\u200d)[\w-]", prose)
    assert not re.search(r"[#!$&][0-9]", prose.replace("&#124;", ""))
    destinations = [match.group(3) for match in _LINK.finditer(prose)]
    assert set(destinations) <= {"https://console.example.com/", "https://example.com/a%20b?x=%3C1%3E"}
    plain = _LINK.sub(r"\1\2", prose).replace("https://console.example.com/", "")  # the console is ours
    assert not re.search(r"[A-Za-z0-9]://|(?i:www)\.", plain)  # nothing a viewer would make a link of
    for line in plain.splitlines():
        for ours in OUR_MARKUP:
            line = line.replace(ours, "")
        line = re.sub(r"_…and \d+ more[^_]*_", "", line)
        unescaped = re.sub(r"\\.", "", line)
        assert not re.search(r"[\[\]`*_~]", unescaped), line
        assert "|" not in unescaped or line.startswith("|"), line
    headings = [line for line in prose.splitlines() if line.startswith("#")]
    assert all(line.startswith(("## ", "### ")) for line in headings)
    assert all(h.startswith(("## ❌ ci-scan: Gate FAILED", "### ")) for h in headings)
    for line in prose.splitlines():
        assert not re.match(r"\s*(::|##\[|##vso\[)", line), line


def test_hostile_text_is_shown_not_obeyed(hostile_run: RunResult) -> None:
    markdown = render(decide_at(hostile_run, "high"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "&amp;lt;b&amp;gt;" in markdown  # an entity from the console is shown as written
    assert f"@{ZWJ}octocat @{ZWJ}org/team hi@{ZWJ}example.com \\#{ZWJ}123 GH!{ZWJ}45 \\${ZWJ}6 &amp;{ZWJ}7" in markdown
    assert f"\\[click\\](https{ZWJ}://evil.example/x)" in markdown
    assert "&#124; a &#124; b &#124; \\`code\\` \\*\\*bold\\*\\* \\_em\\_ \\~\\~del\\~\\~ \\$x\\$" in markdown
    assert "\\\\&#124; back\\\\slash # heading - item 1. one" in markdown.replace("\\#", "#")
    assert "\\#\\#vso\\\\x5b" in markdown and "[31m" not in markdown and " red " in markdown
    # What the reader sees is what the terminal shows (lines joined).
    assert unescape(text(HOSTILE)) == for_log(HOSTILE.replace("\r\n", " ").replace("\n", " "))


@pytest.mark.parametrize(("url", "expected"), [
    ("https://nvd.nist.gov/vuln/detail/CVE-2024-0001", "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"),
    ("HTTP://example.com/a", "HTTP://example.com/a"),
    ("https://example.com/a_(b)", "https://example.com/a_%28b%29"),
    ("https://example.com/a b|c<d>\"e'f\\g`h[i]{j}^", "https://example.com/a%20b%7Cc%3Cd%3E%22e%27f%5Cg%60h%5Bi%5D%7Bj%7D%5E"),
    ("https://example.com/?a=1&b=2", "https://example.com/?a=1&amp;b=2"),
    ("https://example.com/%41%zz%", "https://example.com/%41%25zz%25"),
    ("https://example.com/ünï", "https://example.com/%C3%BCn%C3%AF"),
    ("  https://example.com/x  ", "https://example.com/x"),
    ("https://example.com/x\n)[y](https://evil)", "https://example.com/x%0A%29%5By%5D%28https://evil%29"),
    ("javascript:alert(1)", None),
    ("data:text/html,<b>x</b>", None),
    ("ftp://example.com/x", None),
    ("https:///no-host", None),
    ("//example.com/x", None),
    ("", None),
    ("https://example.com/" + "a" * 3000, None),
])
def test_link_destinations(url: str, expected: str | None) -> None:
    destination = link_destination(url)
    assert destination == expected
    if destination is not None:
        assert not re.search(r"[\s()<>|\[\]`\\\"']", destination)


def test_a_finding_links_only_to_its_http_url(sample_run: RunResult) -> None:
    result = only(sample_run)
    findings = (replace(result.findings[0], link="https://example.com/advisory_(1)?a=1&b=|2|"),
                replace(result.findings[1], link="javascript:alert(1)"))
    markdown = render(decide_at(with_target(sample_run, findings=findings), "high"))
    rows = table_after(markdown, "### Findings that fail the gate")
    assert rows[0][1] == "[CVE-2024-0001](https://example.com/advisory_%281%29?a=1&amp;b=%7C2%7C)"
    assert rows[1][1] == "CVE-2024-0002"


TARGETS = 15_000
"""Enough that the targets table alone is over 1,000,000 bytes."""


def many_targets_run(n: int) -> RunResult:
    targets = tuple(
        TargetResult(target=image_target(f"registry.example.com/team/service-{i:05d}:1.0"), scan_id=f"scan-{i:05d}",
                     status="COMPLETE", findings=(vulnerability(f"CVE-2024-{i:05d}", Severity.CRITICAL, f"lib{i}:1"),))
        for i in range(n)
    )
    return RunResult(targets=targets, console_url="https://console.example.com")


def test_a_huge_findings_table_is_cut_to_fit(large_run: RunResult) -> None:
    decision = decide_at(large_run, "low")
    failing = len(decision.failing)
    assert failing > 10_000
    capped = render(decision)  # the cap of 50 rows keeps it small
    assert f"_…and {failing - MAX_FAILING_ROWS} more._" in capped and "cut to keep" not in capped
    markdown = MarkdownFormat(max_rows=LARGE_SIZE).render(decision)
    size = len(markdown.encode("utf-8"))
    assert MAX_BYTES - 2_000 < size <= MAX_BYTES
    rows = table_after(markdown, "### Findings that fail the gate")
    assert rows and [unescape(link_label(r[1])) for r in rows] == [f.rule_id for _, f in decision.failing[: len(rows)]]
    assert f"_…and {failing - len(rows)} more (cut to keep this summary under 1,000,000 bytes)._" in markdown
    assert markdown.endswith("</details>\n")  # what follows the table is all there
    for table in tables(markdown):
        assert len({line.count("|") for line in table}) == 1


def test_fifteen_thousand_targets_fit_and_keep_their_failing_findings() -> None:
    decision = decide_at(many_targets_run(TARGETS), "high")
    markdown = render(decision)
    assert len(markdown.encode("utf-8")) <= MAX_BYTES
    assert title_text(markdown) == summary_line(decision, "Gate ")
    shown = table_after(markdown, f"{TARGETS} target(s) on ")
    assert shown[-2][0].startswith("_…and ") and shown[-2][0].endswith(
        " more target(s) (cut to keep this summary under 1,000,000 bytes)_")
    assert int(shown[-2][0].split()[1]) + len(shown) - 2 == TARGETS
    assert shown[-1][0] == "**All targets**"
    assert len(table_after(markdown, f"### Findings that fail the gate (first 50 of {TARGETS})")) == MAX_FAILING_ROWS


def test_a_tiny_limit_still_ends_cleanly(multi_run: RunResult) -> None:
    markdown = MarkdownFormat(max_bytes=600).render(decide_at(multi_run, "high"))
    assert len(markdown.encode("utf-8")) <= 600
    assert markdown.endswith("bytes._\n")


def test_a_run_without_targets() -> None:
    decision = decide_at(RunResult(targets=(), console_url="https://console.example.com"), "high")
    markdown = render(decision)
    assert title_text(markdown) == summary_line(decision, "Gate ")
    assert "0 target(s) on [https://console.example.com](https://console.example.com)\n" in markdown
    assert not tables(markdown)


def test_the_hint_for_an_expired_entry_is_one_sentence(sample_run: RunResult) -> None:
    entry = IgnoreEntry(id="CVE-2024-0001", reason="old", expires=dt.date(2026, 1, 1), where="accepted.yml line 4")
    decision = decide(sample_run, Policy.build(fail_on="high", ignores=(entry,)), today=dt.date(2026, 12, 1))
    markdown = render(decision)
    hint = markdown[markdown.rindex("<details>") :]
    (sentence,) = wording.ignore_hint(decision.failing[0][1], "", entry)
    assert f"\n\n{text(sentence)}\n\n</details>\n" in hint and "```" not in hint


def test_a_failing_run_also_shows_the_most_severe_others_collapsed(multi_run: RunResult) -> None:
    decision = decide_at(multi_run, "high")
    markdown = render(decision)
    summary = "<summary>Most severe findings that do not fail the gate (6)</summary>"
    assert f"<details>\n{summary}\n\n| Severity |" in markdown
    rows = table_after(markdown, summary)
    assert [(r[1], r[5]) for r in rows][:2] == [("CVE-2024-0003", "registry.example.com/team/app:1.5.0"),
                                                ("CVE-2024-0003", "registry.example.com/team/app:1.4.2")]
    assert {r[-1] for r in rows} == {"below the --fail-on threshold high"}
    failing = {(f.rule_id, f.component) for _, f in decision.failing}
    assert not {(r[1], f"{r[2]}:{r[3]}") for r in rows} & failing
