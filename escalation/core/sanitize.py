"""Make untrusted pane text safe to show in a terminal, a log line or a desktop notification.

What is removed, and the VISIBLE placeholder it leaves (the PM sees that something was there):

- Escape sequences, 7-bit and 8-bit: CSI (``ESC [`` / U+009B), OSC (``ESC ]`` / U+009D, including
  OSC 8 hyperlinks and OSC 52 clipboard writes), DCS, APC, PM, SOS (their whole string up to BEL or
  ST, or up to the end of the line when unterminated), SS2/SS3 with the character they shift, and
  every other two-character ``ESC x`` sequence.  A run of adjacent sequences collapses to ONE
  ``⟨ESC⟩``, so ``"\\x1b[1m\\x1b[31mboom\\x1b[0m"`` reads ``"⟨ESC⟩boom⟨ESC⟩"``.  A lone ESC is
  ``⟨ESC⟩`` too.
- C0 controls and DEL in caret notation: ``\\x07`` -> ``⟨^G⟩``, ``\\r`` (not followed by ``\\n``) ->
  ``⟨^M⟩``, DEL -> ``⟨^?⟩``.  A tab becomes one space; ``\\r\\n`` is a newline.
- C1 controls (U+0080-U+009F), bidi embeddings, overrides, isolates and marks (U+202A-U+202E,
  U+2066-U+2069, U+200E, U+200F, U+061C), line and paragraph separators (U+2028, U+2029), lone
  surrogates and every other format character (category Cf: zero-width space, BOM, soft hyphen,
  invisible operators, tag characters...) -> ``⟨U+202E⟩``.
- Kept on purpose: ZERO WIDTH JOINER (U+200D) and ZERO WIDTH NON-JOINER (U+200C).  Emoji sequences
  and Persian, Arabic and Indic text need them, and they cannot reorder or hide text.

Newlines become `` ⏎ `` (trailing ones are dropped) so that the result is one line, unless
``multiline=True`` keeps them.  The placeholders are printable, so ``sanitize`` is idempotent.
The patterns are linear (no nested quantifiers), so hostile input cannot make it slow.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ESC_PLACEHOLDER", "NEWLINE_MARK", "sanitize", "tidy_message"]

ESC_PLACEHOLDER = "⟨ESC⟩"
NEWLINE_MARK = " ⏎ "

# A control string (OSC, DCS, APC, PM, SOS) runs until BEL or ST (ESC \ or U+009C); when
# unterminated it is cut at the end of the line, so one stray OSC cannot swallow a whole capture.
_STRING_BODY = r"[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
_ONE_SEQUENCE = (
    r"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"  # CSI
    r"|\x9b[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"  # 8-bit CSI
    rf"|\x1b[\]PX^_]{_STRING_BODY}"  # OSC, DCS, SOS, PM, APC
    rf"|[\x90\x98\x9d\x9e\x9f]{_STRING_BODY}"  # their 8-bit forms
    r"|\x1b[NO][\x20-\x7e]"  # SS2, SS3 and the character they shift
    r"|[\x8e\x8f][\x20-\x7e]"  # 8-bit SS2, SS3
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"  # nF, Fp, Fe, Fs: ESC (, ESC 7, ESC c, ESC =...
)
_SEQUENCES = re.compile(rf"(?:{_ONE_SEQUENCE})+")

# Format characters that may stay: they join, they do not hide or reorder.
_KEEP_FORMAT = frozenset("\u200c\u200d")
_EXTRA_UNSAFE = frozenset("\u2028\u2029")


def _placeholder(char: str) -> str:
    code = ord(char)
    if char == "\x1b":
        return ESC_PLACEHOLDER
    if code < 0x20:
        return f"⟨^{chr(code + 0x40)}⟩"
    if code == 0x7F:
        return "⟨^?⟩"
    return f"⟨U+{code:04X}⟩"


def _unsafe(char: str) -> bool:
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return True
    if code < 0xA0 or char in _KEEP_FORMAT:
        return False
    return char in _EXTRA_UNSAFE or unicodedata.category(char) in ("Cf", "Cs")


_SPECIAL = re.compile(r"\r\n|[\x00-\x1f\x7f]|[^\x00-\x7f]+")


def _clean(text: str, multiline: bool) -> str:
    newline = "\n" if multiline else NEWLINE_MARK

    def fix(match: re.Match[str]) -> str:
        found = match.group()
        if found in ("\n", "\r\n"):
            return newline
        if found == "\t":
            return " "
        return "".join(_placeholder(c) if _unsafe(c) else c for c in found)

    return _SPECIAL.sub(fix, text)


def sanitize(text: str, *, multiline: bool = False) -> str:
    """Return `text` with every escape sequence and spoofing control made visible and harmless.

    One line (newlines shown as `` ⏎ ``, trailing ones dropped) unless `multiline` is true.
    """
    if not multiline:
        text = text.rstrip("\r\n")
    text = _SEQUENCES.sub(ESC_PLACEHOLDER, text)
    if text.isascii() and text.isprintable():
        return text
    return _clean(text, multiline)


# What agents' UIs draw around their text (tree corners, spinners, box lines), not words.
_GLYPHS = re.compile("[\u2500-\u257f\u23bf\u23fa\u23f5\u23f4\u2722-\u273d\u2580-\u259f]")
_RULER = re.compile(r"([=\-_*#~])\1{3,}")
_SPACES = re.compile(r"\s{2,}")
_DOUBLED = re.compile(r"^(?P<head>[^:]{1,40}): (?P=head):\s*", re.IGNORECASE)


def tidy_message(text: str) -> str:
    """A message as a person reads it: no UI glyphs, no `=====` rulers, no doubled prefix.

    `panic: panic: boom` reads `panic: boom`; `usage limit:  ⎿  Claude usage limit
    reached` reads `usage limit: Claude usage limit reached`.
    """
    text = _SPACES.sub(" ", _RULER.sub(" ", _GLYPHS.sub(" ", text))).strip()
    return _DOUBLED.sub(r"\g<head>: ", text)
