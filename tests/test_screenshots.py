"""`make screenshots`' renderer: a coloured tmux capture becomes a PNG with those colours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from demo import ansi_png
from demo.ansi_png import BASIC, Style

HERE = Path(__file__).resolve().parent


def test_sgr_sequences_become_styled_segments_at_their_columns() -> None:
    line = "\x1b[31mERROR\x1b[0m ok \x1b[1;97;41mCRIT\x1b[39;49m \x1b[38;5;196mx\x1b[38;2;1;2;3my"
    segs = ansi_png.parse(line + "\n\x1b[7mrev\x1b[27m\x1b]0;title\x07 tail")
    assert [(s.row, s.col, s.text) for s in segs] == [
        (0, 0, "ERROR"), (0, 5, " ok "), (0, 9, "CRIT"), (0, 13, " "), (0, 14, "x"),
        (0, 15, "y"), (1, 0, "rev"), (1, 3, " tail"),
    ]
    assert segs[0].style == Style(fg=BASIC[1])
    assert segs[1].style == Style()
    assert segs[2].style == Style(fg=BASIC[15], bg=BASIC[1], bold=True)
    assert segs[3].style == Style(bold=True)
    assert segs[4].style.fg == "#ff0000" and segs[5].style.fg == "#010203"
    assert segs[6].style.reverse and not segs[7].style.reverse


def test_the_drawing_escapes_quotes_and_leaves_out_blank_rows() -> None:
    drawing = ansi_png.mvg(ansi_png.parse("\n\n\x1b[33mit's \\ here\x1b[0m\n\n"))
    assert "text 12.0,25 'it\\'s \\\\ here'" in drawing
    assert drawing.splitlines()[0] == f"viewbox 0 0 {int(24 + 11 * ansi_png.CELL_W) + 1} 42"


def test_a_capture_renders_to_a_png_in_its_colours(tmp_path: Path) -> None:
    if not Path("/usr/bin/convert").exists():
        pytest.skip("ImageMagick is not installed (make screenshots installs it)")
    capture = tmp_path / "pane.ansi"
    capture.write_text("\x1b[41m" + " " * 10 + "\x1b[0m plain\n")
    png = tmp_path / "pane.png"
    subprocess.run([sys.executable, str(HERE / "demo" / "ansi_png.py"), str(capture), str(png)],
                   check=True, timeout=60)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def pixel(x: int, y: int) -> str:
        out = subprocess.run(["/usr/bin/convert", str(png), "-format",
                              f"%[hex:p{{{x},{y}}}]", "info:"], capture_output=True, text=True,
                             check=True, timeout=30)
        return out.stdout.strip().lower()[:6]

    assert pixel(20, 20) == BASIC[1][1:]  # inside the red cells
    assert pixel(2, 2) == ansi_png.BACKGROUND[1:]  # the margin
