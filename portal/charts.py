"""Charts drawn on the server as inline SVG: no script, no inline style, so the page keeps its
Content-Security-Policy of ``'self'``. Colours and fonts come from classes in ``static/css/portal.css``
(``.chart .series-0`` …); the numbers are also in the SVG's ``<title>`` elements and in a table the
template prints beside the chart, so the figures can be read without the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 40


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]


def _n(value: float) -> str:
    """A coordinate with one decimal (format_html escapes its arguments, so numbers are formatted first)."""
    return f"{value:.1f}"


def _nice_max(value: int) -> int:
    """The axis maximum: the smallest of 1, 2, 5 × 10ⁿ at or above ``value``."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= factor * step:
                return factor * step
        step *= 10


def stacked_bars(*, title: str, categories: Sequence[str], series: Sequence[Series], unit: str = "件") -> SafeString:
    """Stacked bars, one per category (e.g. month), one colour per series (e.g. 受理 / 返戻)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(categories), 1)
    bar_w = max(min(slot * 0.6, 48), 4)
    parts: list[Any] = [
        format_html('<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">',
                    WIDTH, HEIGHT, title),
        format_html("<title>{}</title>", title),
    ]
    intervals = top if top <= 5 else 5  # top is 1, 2 or 5 × 10ⁿ: every grid line falls on a whole number
    for tick in range(intervals + 1):
        value = top * tick // intervals
        y = TOP + plot_h - plot_h * tick / intervals
        parts.append(format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, _n(y), _n(y)))
        parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 6, _n(y + 4), f"{value:,}"))
    for index, category in enumerate(categories):
        x = LEFT + slot * index + (slot - bar_w) / 2
        base: float = TOP + plot_h
        for number, item in enumerate(series):
            value = item.values[index]
            if value <= 0:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(format_html(
                '<rect class="series-{}" x="{}" y="{}" width="{}" height="{}"><title>{} {} {}{}</title></rect>',
                number, _n(x), _n(base), _n(bar_w), _n(height), category, item.label, f"{value:,}", unit,
            ))
        parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                                 _n(x + bar_w / 2), HEIGHT - BOTTOM + 16, category))
    legend_x = LEFT
    for number, item in enumerate(series):
        parts.append(format_html('<rect class="series-{}" x="{}" y="{}" width="10" height="10"/>', number, legend_x, HEIGHT - 14))
        parts.append(format_html('<text class="legend" x="{}" y="{}">{}</text>', legend_x + 14, HEIGHT - 5, item.label))
        legend_x += 14 + 14 * len(item.label) + 16
    parts.append("</svg>")
    return mark_safe("".join(str(part) for part in parts))  # noqa: S308 - every piece above is escaped by format_html


def ratio_bar(*, title: str, parts: Sequence[tuple[str, int]]) -> SafeString:
    """One horizontal bar split by share (e.g. today's 受理 / 返戻)."""
    total = sum(value for _label, value in parts)
    width, height = 360, 28
    pieces: list[Any] = [format_html('<svg class="chart ratio" viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">',
                          width, height, title), format_html("<title>{}</title>", title)]
    x = 0.0
    for number, (label, value) in enumerate(parts):
        if total <= 0 or value <= 0:
            continue
        w = width * value / total
        pieces.append(format_html('<rect class="series-{}" x="{}" y="0" width="{}" height="{}"><title>{} {} ({}%)</title></rect>',
                                  number, _n(x), _n(w), height, label, f"{value:,}", round(100 * value / total)))
        x += w
    if total <= 0:
        pieces.append(format_html('<rect class="empty" x="0" y="0" width="{}" height="{}"/>', width, height))
    pieces.append("</svg>")
    return mark_safe("".join(str(p) for p in pieces))  # noqa: S308 - every piece above is escaped by format_html


__all__ = ["Series", "escape", "ratio_bar", "stacked_bars"]
