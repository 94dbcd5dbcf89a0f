"""sanitize(): no escape sequence or spoofing control survives; what was removed stays visible."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.core.sanitize import sanitize

ESC = "⟨ESC⟩"

BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)]


def unsafe_chars(text: str, *, multiline: bool) -> list[str]:
    bad = []
    for char in text:
        if char == "\n" and multiline:
            continue
        if char in "\u200c\u200d":
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs") or char in "\u2028\u2029":
            bad.append(char)
    return bad


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("\x1b[1m\x1b[31mboom\x1b[0m", f"{ESC}boom{ESC}"),
        ("\x1b[38;2;255;0;0mred", f"{ESC}red"),
        ("\x1b[?1049h\x1b[2J\x1b[Hscreen", f"{ESC}screen"),
        ("\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", f"{ESC}click{ESC}"),
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", f"{ESC}click{ESC}"),
        ("a\x1b]52;c;cm0gLXJmIH4=\x07b", f"a{ESC}b"),
        ("a\x1b]0;fake title\x1b\\b", f"a{ESC}b"),
        ("a\x1bPq#0;2;0;0;0\x1b\\b", f"a{ESC}b"),  # DCS (sixel)
        ("a\x1b_Gf=100;AAAA\x1b\\b", f"a{ESC}b"),  # APC (kitty graphics)
        ("a\x1b^privacy\x1b\\b", f"a{ESC}b"),  # PM
        ("a\x1bXsos\x1b\\b", f"a{ESC}b"),  # SOS
        ("a\x1bOPb", f"a{ESC}b"),  # SS3 and its character
        ("a\x1bNxb", f"a{ESC}b"),  # SS2 and its character
        ("a\x1b7\x1b8\x1bcb", f"a{ESC}b"),  # save, restore, reset
        ("a\x9b31mb", f"a{ESC}b"),  # 8-bit CSI
        ("a\x9d0;title\x9cb", f"a{ESC}b"),  # 8-bit OSC with 8-bit ST
        ("a\x90dcs\x9cb", f"a{ESC}b"),  # 8-bit DCS
        ("a\x8fPb", f"a{ESC}b"),  # 8-bit SS3
        ("tail\x1b", f"tail{ESC}"),
    ],
)
def test_escape_sequences_collapse_to_one_placeholder(raw: str, want: str) -> None:
    assert sanitize(raw) == want


def test_unterminated_control_string_stops_at_the_end_of_its_line() -> None:
    assert sanitize("a\x1b]0;title\nvisible") == f"a{ESC} ⏎ visible"


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("bell\x07", "bell⟨^G⟩"),
        ("nul\x00x", "nul⟨^@⟩x"),
        ("del\x7fx", "del⟨^?⟩x"),
        ("safe\roverwritten", "safe⟨^M⟩overwritten"),
        ("back\x08space", "back⟨^H⟩space"),
        ("a\tb", "a b"),
        ("nel\x85x", "nel⟨U+0085⟩x"),
        ("csi-less c1 \x9c", "csi-less c1 ⟨U+009C⟩"),
        ("zero\u200bwidth", "zero⟨U+200B⟩width"),
        ("\ufeffbom", "⟨U+FEFF⟩bom"),
        ("soft\u00adhyphen", "soft⟨U+00AD⟩hyphen"),
        ("tag\U000e0041", "tag⟨U+E0041⟩"),
        ("line\u2028sep", "line⟨U+2028⟩sep"),
        ("lone\udc80surrogate", "lone⟨U+DC80⟩surrogate"),
    ],
)
def test_controls_become_visible_placeholders(raw: str, want: str) -> None:
    assert sanitize(raw) == want


@pytest.mark.parametrize("char", BIDI)
def test_bidi_controls_are_removed(char: str) -> None:
    out = sanitize(f"invoice{char}fdp.exe")
    assert char not in out
    assert out == f"invoice⟨U+{ord(char):04X}⟩fdp.exe"


def test_joiners_stay_for_emoji_and_scripts() -> None:
    family = "👨\u200d👩\u200d👧"
    persian = "می\u200cخواهم"
    assert sanitize(family) == family
    assert sanitize(persian) == persian


def test_newlines_make_one_line_unless_multiline() -> None:
    assert sanitize("one\ntwo\r\nthree\n") == "one ⏎ two ⏎ three"
    assert sanitize("one\ntwo\r\nthree\n", multiline=True) == "one\ntwo\nthree\n"
    assert sanitize("one\x1b[31m\ntwo", multiline=True) == f"one{ESC}\ntwo"


def test_plain_text_is_untouched() -> None:
    line = "Traceback (most recent call last): ValueError: 'x' — ünïcödé ✓ 日本語"
    assert sanitize(line) == line


def test_hostile_input_is_handled_in_one_pass() -> None:
    hostile = ("\x1b[" + "1;" * 50_000 + "\x1b]" + "x" * 50_000) * 4
    out = sanitize(hostile)
    assert "\x1b" not in out
    assert sanitize(out) == out


_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["\x1b", "[", "]", "\\", "\x07", "\x9b", "\x9c", "\x9d", "\n", "\r"]),
        st.sampled_from(["\t", "\x00", "\x7f", "P", "_", "^", "X", "N", "O", ";", "1", "m"]),
        st.sampled_from([*BIDI, "\u200b", "\u200d", "\ufeff", "\u2028", "\udc80"]),
        st.characters(),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(_TEXT, st.booleans())
def test_output_is_safe_and_sanitize_is_idempotent(text: str, multiline: bool) -> None:
    out = sanitize(text, multiline=multiline)
    assert unsafe_chars(out, multiline=multiline) == []
    assert sanitize(out, multiline=multiline) == out
    out.encode("utf-8")
    if not multiline:
        assert "\n" not in out
