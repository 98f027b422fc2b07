"""A small dependency-free SVG line chart (log-x), so the plan's plot needs no plotting library."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _fmt_tokens(x: float) -> str:
    for unit, v in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if x >= v:
            return f"{x / v:g}{unit}"
    return f"{x:g}"


def line_chart_svg(series: dict[str, tuple[list[float], list[float]]], path: str | Path, *, title: str,
                   xlabel: str, ylabel: str, markers: list[tuple[float, str]] | None = None,
                   width: int = 760, height: int = 460) -> Path:
    """Write an SVG with one line per series (x on a log scale); `markers` are labelled vertical lines."""
    left, right, top, bottom = 70, 190, 40, 55
    pw, ph = width - left - right, height - top - bottom
    xs = [x for xv, _ in series.values() for x in xv if x > 0]
    ys = [y for _, yv in series.values() for y in yv if math.isfinite(y)]
    if not xs or not ys:
        raise ValueError("nothing to plot")
    lx0, lx1 = math.log10(min(xs)), math.log10(max(xs))
    if lx1 <= lx0:
        lx1 = lx0 + 1
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or 0.05
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + (math.log10(x) - lx0) / (lx1 - lx0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>']
    for e in range(math.floor(lx0), math.ceil(lx1) + 1):
        for m in (1, 2, 5):
            x = m * 10 ** e
            if lx0 <= math.log10(x) <= lx1:
                out.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + ph}" stroke="#eee"/>')
                out.append(f'<text x="{px(x):.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt_tokens(x)}</text>')
    for y in _ticks(y0, y1):
        out.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + pw}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 12}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 {top + ph / 2})">'
               f'{escape(ylabel)}</text>')
    for i, (name, (xv, yv)) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xv, yv, strict=True) if x > 0 and math.isfinite(y))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        ly = top + 14 + i * 18
        out.append(f'<line x1="{left + pw + 12}" y1="{ly - 4}" x2="{left + pw + 32}" y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 38}" y="{ly}">{escape(name)}</text>')
    for x, label in markers or []:
        if x > 0 and lx0 <= math.log10(x) <= lx1:
            out.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + ph}" stroke="#000" stroke-dasharray="4 3"/>')
            out.append(f'<text x="{px(x) + 4:.1f}" y="{top + 12}">{escape(label)}</text>')
    out.append("</svg>")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(out) + "\n")
    return p
