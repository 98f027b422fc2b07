"""Charts as inline SVG built on the server (no JavaScript library, no network).

Every piece of text that goes into the SVG passes through markupsafe.escape, so a stage name or reason
code can never inject markup.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

COLORS = {"kept": "#3a7d44", "dropped": "#c0392b", "quarantined": "#e08e0b", "bar": "#4a6fa5", "line": "#222"}


def fmt(n: float | int | None) -> str:
    """Short human number: 1234 -> 1.2k, 2500000 -> 2.5M."""
    if n is None:
        return "-"
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suffix}"
    return f"{n:.0f}" if n == int(n) else f"{n:.3g}"


def funnel(stages: list[dict[str, Any]], what: str = "docs", width: int = 760) -> Markup:
    """Horizontal stacked bars, one per stage: kept / dropped / quarantined of what entered it."""
    row_h, label_w, pad = 26, 150, 8
    bar_w = width - label_w - 120
    top = max((s[what]["in"] for s in stages), default=0) or 1
    height = pad * 2 + row_h * max(len(stages), 1) + 20
    out = [f'<svg class="chart funnel" role="img" aria-label="{escape(what)} per stage" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, s in enumerate(stages):
        y = pad + i * row_h
        out.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12">{escape(s["label"])}</text>')
        x = float(label_w)
        for part in ("kept", "dropped", "quarantined"):
            v = s[what][part]
            w = bar_w * v / top
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
                           f'fill="{COLORS[part]}"><title>{escape(s["label"])} {part}: {v:,}</title></rect>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 16}" font-size="11">{fmt(s[what]["kept"])} / '
                   f'{fmt(s[what]["in"])}</text>')
    ly = pad + row_h * len(stages) + 12
    lx = label_w
    for part in ("kept", "dropped", "quarantined"):
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLORS[part]}"/>'
                   f'<text x="{lx + 14}" y="{ly}" font-size="11">{part}</text>')
        lx += 100
    out.append("</svg>")
    return Markup("".join(out))


def histogram(hist: dict[str, Any], marks: list[tuple[str, float]], weight: str = "docs",
              width: int = 560, height: int = 200) -> Markup:
    """Bars of a histogram() result with a vertical line per threshold."""
    bins = hist.get("bins") or []
    left, bottom, top_pad = 44, 34, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    out = [f'<svg class="chart hist" role="img" aria-label="histogram of {escape(hist.get("column", ""))}" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    if not bins:
        out.append(f'<text x="{left}" y="{height / 2}" font-size="12">no values</text></svg>')
        return Markup("".join(out))
    lo, hi = bins[0]["lo"], bins[-1]["hi"]
    span = (hi - lo) or 1.0
    peak = max(b[weight] for b in bins) or 1
    bw = plot_w / len(bins)
    for i, b in enumerate(bins):
        h = plot_h * b[weight] / peak
        out.append(f'<rect x="{left + i * bw:.1f}" y="{top_pad + plot_h - h:.1f}" width="{max(bw - 1, 1):.1f}" '
                   f'height="{h:.1f}" fill="{COLORS["bar"]}"><title>[{b["lo"]:.4g}, {b["hi"]:.4g}): '
                   f'{b["docs"]:,} docs, {b["tokens"]:,} tokens</title></rect>')
    base = top_pad + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#888"/>')
    out.append(f'<text x="{left}" y="{base + 14}" font-size="10">{lo:.4g}</text>')
    out.append(f'<text x="{left + plot_w}" y="{base + 14}" font-size="10" text-anchor="end">{hi:.4g}</text>')
    out.append(f'<text x="{left - 4}" y="{top_pad + 8}" font-size="10" text-anchor="end">{fmt(peak)}</text>')
    for j, (where, value) in enumerate(marks):
        x = left + plot_w * min(max((value - lo) / span, 0.0), 1.0)
        out.append(f'<line class="threshold" x1="{x:.1f}" y1="{top_pad}" x2="{x:.1f}" y2="{base}" stroke="#d00" '
                   f'stroke-width="2" stroke-dasharray="4 2"><title>{escape(where)} = {value:.4g}</title></line>')
        out.append(f'<text x="{x + 3:.1f}" y="{top_pad + 12 + 12 * j}" font-size="10" fill="#d00">{value:.4g}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" font-size="11" text-anchor="middle">'
               f'{escape(hist.get("column", ""))} ({escape(weight)} per bin)</text>')
    out.append("</svg>")
    return Markup("".join(out))
