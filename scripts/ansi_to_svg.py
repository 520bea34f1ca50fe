#!/usr/bin/env python3
"""Renders a terminal capture with ANSI colours (tmux capture-pane -e -p) as an SVG image.

Usage: ansi_to_svg.py COLS ROWS < capture.ansi > screen.svg
"""
import html
import re
import sys

PALETTE = [
    "#1e1e2e", "#f38ba8", "#a6e3a1", "#f9e2af", "#89b4fa", "#f5c2e7", "#94e2d5", "#bac2de",
    "#585b70", "#f38ba8", "#a6e3a1", "#f9e2af", "#89b4fa", "#f5c2e7", "#94e2d5", "#cdd6f4",
]
FG, BG = "#cdd6f4", "#1e1e2e"
CW, CH = 8.4, 17  # cell size in px


def xterm256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def parse(text, cols, rows):
    """Returns rows of cells: (char, fg, bg, bold, underline, reverse)."""
    grid = []
    state = dict(fg=None, bg=None, bold=False, ul=False, rev=False)
    for line in text.split("\n")[:rows]:
        cells = []
        for tok in re.split(r"(\x1b\[[0-9;:]*m)", line):
            if tok.startswith("\x1b["):
                codes = [int(c) if c else 0 for c in re.split("[;:]", tok[2:-1])] or [0]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0:
                        state = dict(fg=None, bg=None, bold=False, ul=False, rev=False)
                    elif c == 1:
                        state["bold"] = True
                    elif c == 22:
                        state["bold"] = False
                    elif c == 4:
                        state["ul"] = True
                    elif c == 24:
                        state["ul"] = False
                    elif c == 7:
                        state["rev"] = True
                    elif c == 27:
                        state["rev"] = False
                    elif 30 <= c <= 37:
                        state["fg"] = PALETTE[c - 30]
                    elif 90 <= c <= 97:
                        state["fg"] = PALETTE[c - 90 + 8]
                    elif 40 <= c <= 47:
                        state["bg"] = PALETTE[c - 40]
                    elif 100 <= c <= 107:
                        state["bg"] = PALETTE[c - 100 + 8]
                    elif c == 39:
                        state["fg"] = None
                    elif c == 49:
                        state["bg"] = None
                    elif c in (38, 48) and i + 1 < len(codes):
                        key = "fg" if c == 38 else "bg"
                        if codes[i + 1] == 5 and i + 2 < len(codes):
                            state[key] = xterm256(codes[i + 2])
                            i += 2
                        elif codes[i + 1] == 2 and i + 4 < len(codes):
                            state[key] = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                            i += 4
                    i += 1
            else:
                for ch in tok:
                    cells.append((ch, state["fg"], state["bg"], state["bold"], state["ul"], state["rev"]))
        cells = cells[:cols] + [(" ", None, None, False, False, False)] * (cols - len(cells))
        grid.append(cells)
    while len(grid) < rows:
        grid.append([(" ", None, None, False, False, False)] * cols)
    return grid


def render(grid, cols, rows):
    w, h = cols * CW, rows * CH
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}">',
        f'<rect width="100%" height="100%" fill="{BG}"/>',
        '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
    ]
    for y, row in enumerate(grid):
        x = 0
        while x < cols:
            ch, fg, bg, bold, ul, rev = row[x]
            end = x + 1
            while end < cols and row[end][1:] == row[x][1:]:
                end += 1
            fgc, bgc = fg or FG, bg
            if rev:
                fgc, bgc = (bg or BG), (fg or FG)
            if bgc:
                out.append(f'<rect x="{x * CW:.1f}" y="{y * CH}" width="{(end - x) * CW:.1f}" height="{CH}" fill="{bgc}"/>')
            text = "".join(c[0] for c in row[x:end])
            if text.strip():
                attrs = f' font-weight="bold"' if bold else ""
                attrs += ' text-decoration="underline"' if ul else ""
                out.append(
                    f'<text x="{x * CW:.1f}" y="{y * CH + 13}" fill="{fgc}"{attrs} xml:space="preserve" textLength="{(end - x) * CW:.1f}">{html.escape(text)}</text>'
                )
            x = end
    out.append("</g></svg>")
    return "\n".join(out)


if __name__ == "__main__":
    cols, rows = int(sys.argv[1]), int(sys.argv[2])
    print(render(parse(sys.stdin.read(), cols, rows), cols, rows))
