from __future__ import annotations

import json
import re
import unicodedata

import pytest

from ci_scan.sanitize import MARKER, clean_int, clean_number, clean_text, for_log, neutral_line_start

BIG = int("9" * 400)


# clean_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ab\ud800cd", "ab\ufffdcd"),
        ("end\udfff", "end\ufffd"),
        ("\udc00\ud800", "\ufffd\ufffd"),
        ("caf\u00e9\ud83d", "caf\u00e9\ufffd"),
        ("a\x00b\x00", "ab"),
        ("\x00\ud800", "\ufffd"),
    ],
)
def test_clean_text_repairs(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected
    clean_text(raw).encode("utf-8")


def test_clean_text_handles_what_json_loads_builds() -> None:
    raw = json.loads('{"name": "pkg\\ud800\\u0000x"}')["name"]
    with pytest.raises(UnicodeEncodeError):
        raw.encode("utf-8")
    assert clean_text(raw) == "pkg\ufffdx"


@pytest.mark.parametrize("text", ["", "openssl", "caf\u00e9", "\u6f22\u5b57", "\U0001f600 ok", "\x1b[31m"])
def test_clean_text_returns_good_text_as_is(text: str) -> None:
    assert clean_text(text) is text


# clean_number and clean_int


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, 0.0),
        (7, 7.0),
        (-2.5, -2.5),
        (9.8, 9.8),
        (10**9, 1e9),
        (-1e9, -1e9),
    ],
)
def test_clean_number_accepts(raw: object, expected: float) -> None:
    result = clean_number(raw)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    "raw",
    [
        BIG,
        -BIG,
        1e999,
        -1e999,
        float("nan"),
        True,
        False,
        "5",
        "9.8",
        None,
        [1],
        {"score": 1},
        10**9 + 1,
        -1e9 - 1,
    ],
)
def test_clean_number_rejects(raw: object) -> None:
    assert clean_number(raw) is None


def test_clean_number_limit() -> None:
    assert clean_number(10.5, limit=10) is None
    assert clean_number(10, limit=10) == 10.0
    assert clean_number(1e300, limit=float("inf")) == 1e300


def test_clean_number_big_int_would_overflow() -> None:
    with pytest.raises(OverflowError):
        float(BIG)
    assert clean_number(BIG, limit=float("inf")) is None


@pytest.mark.parametrize(("raw", "expected"), [(0, 0), (42, 42), (-3, -3), (2**53, 2**53), (-(2**53), -(2**53))])
def test_clean_int_accepts(raw: object, expected: int) -> None:
    result = clean_int(raw)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "raw", [True, False, BIG, -BIG, 2**53 + 1, -(2**53) - 1, 3.0, float("nan"), 1e999, "3", None, [3]]
)
def test_clean_int_rejects(raw: object) -> None:
    assert clean_int(raw) is None


def test_clean_int_limit() -> None:
    assert clean_int(11, limit=10) is None
    assert clean_int(-10, limit=10) == -10


# for_log: escape sequences are removed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[1;31mCVE-2024-0001\x1b[0m", "CVE-2024-0001"),
        ("\x1b[38;5;196mred\x1b[m \x1b[?25lhidden cursor", "red hidden cursor"),
        ("ok\x1b[2K\x1b[1A\x1b[1Gfake", "okfake"),
        ("\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", "click"),
        ("\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07", "click"),
        ("\x1b]0;pwned\x07pkg", "pkg"),
        ("\x1b]2;title\x1b\\pkg", "pkg"),
        ("\x1bP1$r\x1b\\x", "x"),
        ("\x1b_apc\x1b\\x", "x"),
        ("\x1b7saved\x1b8", "saved"),
        ("\x1bcreset", "reset"),
        ("\x1b(Bx", "x"),
        ("\x9b31mred\x9b0m", "red"),
        ("\x9d0;title\x9cok", "ok"),
        ("\x9d0;title\x07ok", "ok"),
        ("a\x85b\x90c\x9fd", "abcd"),
        ("\x1b]0;no end", "0;no end"),
        ("x\x1b", "x\\x1b"),
        ("\x1b\x1b[31m[0m", "\\x1b[0m"),
        (":\x1b[0m:add-mask::x", ">::add-mask::x"),
    ],
)
def test_for_log_removes_escape_sequences(raw: str, expected: str) -> None:
    assert for_log(raw) == expected


# for_log: other controls are shown escaped


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ding\x07", "ding\\x07"),
        ("abc\x08\x08\x08xyz", "abc\\x08\\x08\\x08xyz"),
        ("FAILED\r PASSED", "FAILED\\r PASSED"),
        ("a\x00b", "a\\x00b"),
        ("a\x7fb", "a\\x7fb"),
        ("a\x0bb\x0cc\x1cd", "a\\x0bb\\x0cc\\x1cd"),
        ("a\tb", "a b"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
        ("\u2066x\u2067y\u2068z\u2069", "\\u2066x\\u2067y\\u2068z\\u2069"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("\ufeffpkg", "\\ufeffpkg"),
        ("pa\u200bckage\u00ad", "pa\\u200bckage\\xad"),
        ("\u2764\ufe0f", "\u2764\\ufe0f"),
        ("\u3164", "\\u3164"),
        ("flag\U000e0067\U000e007f", "flag\\U000e0067\\U000e007f"),
        ("\ue000\U000f0000\U0010fffd", "\\ue000\\U000f0000\\U0010fffd"),
        ("\U00050000\u0378", "\\U00050000\\u0378"),
        ("a\ud800b\udfff", "a\ufffdb\ufffd"),
    ],
)
def test_for_log_escapes_controls(raw: str, expected: str) -> None:
    assert for_log(raw) == expected


# for_log: one line, and never a CI command


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pkg\n::add-mask::x", "pkg\\n::add-mask::x"),
        ("pkg\r\n::error::x", "pkg\\r\\n::error::x"),
        ("pkg\r::warning::x", "pkg\\r::warning::x"),
        ("pkg\x85::add-mask::x", "pkg::add-mask::x"),
        ("pkg\u2028::add-mask::x", "pkg\\u2028::add-mask::x"),
        ("pkg\n##vso[task.setvariable variable=x]1", "pkg\\n##vso\\x5btask.setvariable variable=x]1"),
    ],
)
def test_for_log_newline_injection_stays_on_one_line(raw: str, expected: str) -> None:
    out = for_log(raw)
    assert out == expected
    assert len(out.splitlines()) == 1
    assert not any(line.lstrip().startswith("::") for line in out.splitlines())
    assert "##vso[" not in out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("::stop-commands::tok", ">::stop-commands::tok"),
        ("::add-mask::secret", ">::add-mask::secret"),
        ("::set-output name=x::1", ">::set-output name=x::1"),
        ("  ::error::x", ">  ::error::x"),
        ("\t::error::x", "> ::error::x"),
        ("\u00a0::error::x", ">\u00a0::error::x"),
        ("\u3000::error::x", ">\u3000::error::x"),
        ("##vso[task.setvariable variable=x]1", ">##vso\\x5btask.setvariable variable=x]1"),
        ("##VSO[task.complete result=Failed]", ">##VSO\\x5btask.complete result=Failed]"),
        ("##[group]x", ">##\\x5bgroup]x"),
        ("section_start:1700000000:x\r\x1b[0Kname", ">section_start:1700000000:x\\rname"),
        ("Section_End:1700000000:x", ">Section_End:1700000000:x"),
    ],
)
def test_for_log_neutralises_command_prefixes(raw: str, expected: str) -> None:
    assert for_log(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pkg ##vso[task.setvariable variable=x]1", "pkg ##vso\\x5btask.setvariable variable=x]1"),
        ("a ##[add-mask]b", "a ##\\x5badd-mask]b"),
        ("x##teamcity[buildStatus text='ok']", "x##teamcity\\x5bbuildStatus text='ok']"),
        ("#\x85#[add-mask]b", ">##\\x5badd-mask]b"),
    ],
)
def test_for_log_breaks_commands_found_anywhere(raw: str, expected: str) -> None:
    assert for_log(raw) == expected


def test_for_log_invisible_character_before_command_is_shown() -> None:
    # .NET's default StartsWith skips zero-width characters; escaped, the line starts with a backslash.
    assert for_log("\u200b::add-mask::x") == "\\u200b::add-mask::x"
    assert for_log("\x00::add-mask::x") == "\\x00::add-mask::x"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "CVE-2024-12345",
        "openssl 3.0.2-0ubuntu1.10",
        "registry.example.com/team/app:1.2.3",
        "caf\u00e9",
        "na\u00efve se\u00f1or \u00c5ngstr\u00f6m",
        "\u6f22\u5b57\u30d1\u30c3\u30b1\u30fc\u30b8",
        "\u0645\u0631\u062d\u0628\u0627",
        "\U0001f600 \u00a0nbsp",
        "C:\\path\\x1b not an escape",
        "100% done: 5 > 3 #1 [x] # [y] #a[z]",
        "a: b :: c",
        " leading space",
        "\ufffd",
    ],
)
def test_for_log_leaves_clean_text_unchanged(text: str) -> None:
    assert for_log(text) == text


# neutral_line_start


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ci-scan: 3 findings at or above high", "ci-scan: 3 findings at or above high"),
        ("  indented: ok", "  indented: ok"),
        (": one colon", ": one colon"),
        ("", ""),
        ("::error::x", ">::error::x"),
        ("   ::notice::x", ">   ::notice::x"),
        ("\u200b::add-mask::x", ">\u200b::add-mask::x"),
        ("##vso[task.complete result=Failed]", ">##vso\\x5btask.complete result=Failed]"),
        ("##[error]x", ">##\\x5berror]x"),
        ("section_start:1:a", ">section_start:1:a"),
        ("SECTION_END:1:a", ">SECTION_END:1:a"),
    ],
)
def test_neutral_line_start(line: str, expected: str) -> None:
    assert neutral_line_start(line) == expected


def test_neutral_line_start_catches_pieces_that_join_up() -> None:
    line = "image " + for_log("evil##") + "[" + for_log("add-mask]s") + "]"
    assert line == "image evil##[add-mask]s]"
    assert neutral_line_start(line) == "image evil##\\x5badd-mask]s]"


def test_marker_is_visible_and_not_whitespace() -> None:
    assert MARKER == ">"
    assert not MARKER.isspace()


# Every code point


NAMED_FORBIDDEN = [
    (0x00, 0x1F),  # C0, including ESC, BEL, BS, CR, LF
    (0x7F, 0x9F),  # DEL and C1, including 8-bit CSI
    (0xD800, 0xDFFF),  # lone surrogates
    (0x2028, 0x2029),  # line and paragraph separators
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2066, 0x2069),  # bidi isolates
    (0x200B, 0x200F),  # zero-width characters and marks
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0000, 0xE0FFF),  # tags and other ignorables
]
HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
PLAIN_ASCII_RUN = re.compile("[ -~]+")


NAMED_FORBIDDEN_CHARS = frozenset(chr(c) for a, b in NAMED_FORBIDDEN for c in range(a, b + 1))


def _hidden(char: str) -> bool:
    return char in NAMED_FORBIDDEN_CHARS or unicodedata.category(char) in HIDDEN_CATEGORIES


def test_for_log_over_every_code_point() -> None:
    step = 4096
    for number, start in enumerate(range(0, 0x110000, step)):
        prefix = ("", "::", " ::")[number % 3]
        chunk = prefix + "".join(map(chr, range(start, min(start + step, 0x110000))))
        out = for_log(chunk)
        bad = [char for char in set(PLAIN_ASCII_RUN.sub("", out)) if _hidden(char)]
        assert not bad, f"{bad[:5]!r} in output for chunk at U+{start:04X}"
        assert "\n" not in out
        assert "\r" not in out
        assert len(out.splitlines()) == 1
        assert not out.lstrip().startswith("::")
        assert "##vso[" not in out
        assert "##[" not in out


def test_hidden_check_can_fail() -> None:
    assert all(_hidden(chr(c)) for c in (0x1B, 0x0A, 0x0D, 0x9B, 0x202E, 0x2028, 0xD800, 0xFEFF, 0xE0041, 0x50000))
    assert not any(_hidden(c) for c in "a\u00e9\u6f22\u00a0 ")


def test_for_log_keeps_every_ordinary_character() -> None:
    ordinary = "".join(
        chr(c)
        for c in range(0x80, 0x40000)
        if not 0xD800 <= c <= 0xDFFF
        and unicodedata.category(chr(c))[0] not in "CZ"
        and not 0xFE00 <= c <= 0xFE0F
        and c not in (0x34F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0)
    )
    assert len(ordinary) > 100_000
    assert for_log(ordinary) == ordinary
