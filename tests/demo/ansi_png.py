"""Renders a tmux capture with colours (`capture-pane -e -p`) to a PNG, through ImageMagick.

Usage: python ansi_png.py CAPTURE.ansi OUT.png [--title TEXT]

The capture's SGR sequences (16, 256 and 24-bit colours, bold, faint, reverse) become an
ImageMagick vector drawing (MVG) in a monospaced font, one cell per character, which
`convert` rasterises.  Any other escape sequence is dropped.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["Segment", "Style", "main", "mvg", "parse"]

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
FONT_SIZE = 14
CELL_W = FONT_SIZE * 1233 / 2048  # DejaVu Sans Mono's advance is 1233 units of 2048
CELL_H = 18
PAD = 12
TITLE_H = 28
BACKGROUND = "#1d1f21"
FOREGROUND = "#d0d0d0"
# xterm's 16 colours, slightly softened for a dark background
BASIC = (
    "#1d1f21", "#e0504a", "#8fbf5a", "#e8c04a", "#5f9fdf", "#b07fcf", "#5fbfbf", "#c8c8c8",
    "#707070", "#ff6b63", "#b5e07a", "#ffe07a", "#82bfff", "#d3a1f0", "#8ae0e0", "#ffffff",
)
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_OTHER_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


@dataclass(frozen=True)
class Style:
    """The look of a run of characters."""

    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    faint: bool = False
    reverse: bool = False


@dataclass(frozen=True)
class Segment:
    """Characters of one style starting at a column of a row."""

    row: int
    col: int
    text: str
    style: Style


def _color256(n: int) -> str:
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        return f"#{levels[n // 36]:02x}{levels[n // 6 % 6]:02x}{levels[n % 6]:02x}"
    grey = 8 + 10 * (n - 232)
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def _apply(style: Style, params: str) -> Style:
    codes = [int(c) if c else 0 for c in re.split("[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            style = Style()
        elif c == 1:
            style = replace(style, bold=True)
        elif c == 2:
            style = replace(style, faint=True)
        elif c == 22:
            style = replace(style, bold=False, faint=False)
        elif c == 7:
            style = replace(style, reverse=True)
        elif c == 27:
            style = replace(style, reverse=False)
        elif 30 <= c <= 37 or 90 <= c <= 97:
            style = replace(style, fg=BASIC[c - 30 if c < 90 else c - 82])
        elif 40 <= c <= 47 or 100 <= c <= 107:
            style = replace(style, bg=BASIC[c - 40 if c < 100 else c - 92])
        elif c == 39:
            style = replace(style, fg=None)
        elif c == 49:
            style = replace(style, bg=None)
        elif c in (38, 48) and i + 1 < len(codes):
            color = None
            if codes[i + 1] == 5 and i + 2 < len(codes):
                color, i = _color256(codes[i + 2]), i + 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = codes[i + 2 : i + 5]
                color, i = f"#{r:02x}{g:02x}{b:02x}", i + 4
            style = replace(style, fg=color) if c == 38 else replace(style, bg=color)
        i += 1
    return style


def parse(text: str) -> list[Segment]:
    """The capture's rows as styled segments; the style carries over from row to row."""
    segments: list[Segment] = []
    style = Style()
    for row, line in enumerate(text.splitlines()):
        col = 0
        pos = 0
        for m in _SGR.finditer(line):
            chunk = _OTHER_ESCAPE.sub("", line[pos : m.start()])
            if chunk:
                segments.append(Segment(row=row, col=col, text=chunk, style=style))
                col += len(chunk)
            style = _apply(style, m.group(1))
            pos = m.end()
        chunk = _OTHER_ESCAPE.sub("", line[pos:])
        if chunk:
            segments.append(Segment(row=row, col=col, text=chunk, style=style))
    return segments


def _quote(text: str) -> str:
    cleaned = "".join(c if c.isprintable() else "?" for c in text)
    return "'" + cleaned.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _dim(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(int(v * 0.6 + 0x1d * 0.4) for v in (r, g, b)))


def mvg(segments: list[Segment], *, title: str = "") -> str:
    """An ImageMagick drawing of the segments, with a title bar when a title is given.

    Blank rows above the first and below the last row with text are left out."""
    shown = [s.row for s in segments if s.text.strip()]
    first, last = (min(shown), max(shown)) if shown else (0, -1)
    segments = [replace(s, row=s.row - first) for s in segments if first <= s.row <= last]
    rows = max((s.row for s in segments), default=0) + 1
    cols = max((s.col + len(s.text) for s in segments), default=1)
    top = PAD + (TITLE_H if title else 0)
    width = int(2 * PAD + cols * CELL_W) + 1
    height = top + rows * CELL_H + PAD
    out = [
        f"viewbox 0 0 {width} {height}",
        f"fill '{BACKGROUND}' rectangle 0,0 {width},{height}",
        f"font '{FONT}'",
        f"font-size {FONT_SIZE}",
    ]
    if title:
        out.append(f"fill '#303336' rectangle 0,0 {width},{TITLE_H}")
        out.append(f"fill '#a0a0a0' text {PAD},{TITLE_H - 9} {_quote(title)}")
    for s in segments:
        fg, bg = s.style.fg or FOREGROUND, s.style.bg
        if s.style.reverse:
            fg, bg = bg or BACKGROUND, fg
        if s.style.faint:
            fg = _dim(fg)
        x = PAD + s.col * CELL_W
        y = top + s.row * CELL_H
        if bg is not None:
            out.append(f"fill '{bg}' rectangle {x:.1f},{y} {x + len(s.text) * CELL_W:.1f},"
                       f"{y + CELL_H}")
        if s.text.strip():
            weight = "font-weight 700" if s.style.bold else "font-weight 400"
            out.append(f"{weight} fill '{fg}' text {x:.1f},{y + CELL_H - 5} {_quote(s.text)}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("capture", type=Path)
    p.add_argument("png", type=Path)
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    convert = shutil.which("convert", path="/usr/bin") or shutil.which("convert")
    if convert is None:
        print("ansi_png: ImageMagick's convert is not installed", file=sys.stderr)
        return 2
    text = args.capture.read_text(errors="replace").rstrip("\n")
    drawing = mvg(parse(text), title=args.title)
    with tempfile.NamedTemporaryFile("w", suffix=".mvg", encoding="utf-8") as f:
        f.write(drawing)
        f.flush()
        png = str(args.png)
        subprocess.run([convert, f"mvg:{f.name}", "-strip", "-depth", "8", png], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
