"""Charts for the pages as inline SVG, drawn on the server: pure functions from numbers to
markup. No script, no external file, and nothing the pages' Content-Security-Policy refuses:
no `style` attribute, only classes (style.css colours them) and SVG's own geometry.

Every chart is an image to assistive technology (role="img", named by its <title> and
<desc>); every bar carries its own <title> (a tooltip) and has its figure written next to
it; the pages show the same numbers as a table besides. Bars are proportional to their value
over the chart's largest (a bar of 0 is drawn flat); a missing value (None, NaN) is no bar
and reads "—". Every text is escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

NO_VALUE = "—"
PLOT_HEIGHT = 200.0
WIDTH = 720.0
_IDENT = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_CHAR = 7.0  # the width of a label's character at the charts' font size, about
_MAX_LABEL = 24  # characters drawn; the whole label stays in the bar's <title>


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None
    text: str | None = None  # the value as the page writes it (default: the number)


@dataclass(frozen=True, slots=True)
class Column:
    """One stacked column: a value per series, bottom first."""

    label: str
    parts: tuple[float | None, ...]
    text: str | None = None  # the total as the page writes it (default: the number)


@dataclass(frozen=True, slots=True)
class Target:
    """A horizontal line across a chart at `value` (a target), labelled at its right end."""

    label: str
    value: float


def clean(value: float | None) -> float | None:
    """A value a bar can show: None for missing or not finite, never below zero."""
    if value is None or not math.isfinite(value):
        return None
    return max(float(value), 0.0)


def number(value: float | None) -> str:
    if (value := clean(value)) is None:
        return NO_VALUE
    return f"{value:.0f}" if value.is_integer() else f"{value:.3g}"


def duration(seconds: float | None) -> str:
    """A time span as a person reads it: < 1 s, 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if (seconds := clean(seconds)) is None:
        return NO_VALUE
    if 0 < seconds < 1:
        return "< 1 s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def heights(values: Sequence[float | None], top: float, plot: float) -> list[float | None]:
    """Each value's height on a plot `plot` high whose top is `top` (0 when all are 0)."""
    scale = plot / top if top > 0 else 0.0
    return [None if (v := clean(value)) is None else v * scale for value in values]


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _open(ident: str, title: str, description: str, width: float, height: float) -> Markup:
    if not _IDENT.fullmatch(ident):
        raise ValueError(f"not a chart id: {ident!r}")
    return Markup(
        '<svg class="chart" id="{id}" xmlns="http://www.w3.org/2000/svg"'
        ' viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
    ).format(id=ident, w=_f(width), h=_f(height), title=title, desc=description)


def _empty(ident: str, title: str, description: str, text: str, width: float) -> Markup:
    return _open(ident, title, description or text, width, 60) + Markup(
        '<text class="empty" x="{x}" y="34" text-anchor="middle">{text}</text></svg>'
    ).format(x=_f(width / 2), text=text)


def _labels_layout(labels: Sequence[str], slot: float) -> tuple[bool, float]:
    """Whether the labels under the columns must slant to fit, and the room they take."""
    longest = max((len(_short(label)) for label in labels), default=0) * _CHAR
    if longest <= slot - 4:
        return False, 24.0
    return True, 16.0 + longest * math.sin(math.radians(35))


def _label(x: float, y: float, label: str, slanted: bool) -> Markup:
    if slanted:
        return Markup(
            '<text class="label" x="{x}" y="{y}" text-anchor="end"'
            ' transform="rotate(-35 {x} {y})">{text}</text>'
        ).format(x=_f(x), y=_f(y), text=_short(label))
    return Markup('<text class="label" x="{x}" y="{y}" text-anchor="middle">{text}</text>').format(
        x=_f(x), y=_f(y), text=_short(label)
    )


def _rect(classes: str, x: float, y: float, width: float, height: float, tip: str) -> Markup:
    return Markup(
        '<rect class="{classes}" x="{x}" y="{y}" width="{w}" height="{h}"><title>{tip}</title>'
        "</rect>"
    ).format(classes=classes, x=_f(x), y=_f(y), w=_f(width), h=_f(height), tip=tip)


def _value(x: float, y: float, text: str) -> Markup:
    return Markup('<text class="value" x="{x}" y="{y}" text-anchor="middle">{text}</text>').format(
        x=_f(x), y=_f(y), text=text
    )


def _axis(left: float, right: float, y: float) -> Markup:
    return Markup('<line class="axis" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/>').format(
        x1=_f(left), x2=_f(right), y=_f(y)
    )


def column_chart(
    bars: Sequence[Bar],
    *,
    ident: str,
    title: str,
    description: str = "",
    targets: Sequence[Target] = (),
    empty: str = "No data",
    width: float = WIDTH,
    plot_height: float = PLOT_HEIGHT,
) -> Markup:
    """A column per bar, its height proportional to its value; `targets` as lines across."""
    if not bars:
        return _empty(ident, title, description, empty, width)
    lines = [(t, v) for t in targets if (v := clean(t.value)) is not None]
    top = max([v for b in bars if (v := clean(b.value)) is not None] + [v for _, v in lines] or [0])
    longest = max((len(_short(t.label)) for t, _ in lines), default=0)
    left, right = 8.0, 8.0 + (longest * _CHAR + 12.0 if lines else 0.0)
    slot = (width - left - right) / len(bars)
    slanted, label_room = _labels_layout([b.label for b in bars], slot)
    base = 24.0 + plot_height
    height = base + label_room + (12.0 if slanted else 0.0)
    bar_width = min(slot * 0.6, 64.0)
    parts = [_open(ident, title, description, width, height)]
    tops = heights([b.value for b in bars], top, plot_height)
    for index, (bar, tall) in enumerate(zip(bars, tops, strict=True)):
        centre = left + slot * (index + 0.5)
        shown = NO_VALUE
        if tall is not None:
            shown = bar.text if bar.text is not None else number(bar.value)
        parts.append(Markup('<g class="column">'))
        if tall is not None:
            tip = f"{bar.label}: {shown}"
            parts.append(_rect("bar", centre - bar_width / 2, base - tall, bar_width, tall, tip))
        parts.append(_value(centre, base - (tall or 0.0) - 6, shown))
        parts.append(_label(centre, base + 16, bar.label, slanted))
        parts.append(Markup("</g>"))
    for target, value in lines:
        y = base - (value * plot_height / top if top > 0 else 0.0)
        parts.append(
            Markup(
                '<g class="target"><line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}">'
                '<title>{label}</title></line><text x="{tx}" y="{ty}">{short}</text></g>'
            ).format(
                x1=_f(left),
                x2=_f(width - right),
                y=_f(y),
                label=target.label,
                tx=_f(width - right + 4),
                ty=_f(y + 4),
                short=_short(target.label),
            )
        )
    parts.append(_axis(left, width - right, base))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def stacked_chart(
    columns: Sequence[Column],
    series: Sequence[str],
    *,
    ident: str,
    title: str,
    description: str = "",
    empty: str = "No data",
    width: float = WIDTH,
    plot_height: float = PLOT_HEIGHT,
) -> Markup:
    """A column per entry, stacked from its parts (one per series, bottom first, each
    proportional to its value), the total above it, and a legend of the series."""
    if not columns:
        return _empty(ident, title, description, empty, width)
    totals = [sum(v for p in c.parts if (v := clean(p)) is not None) for c in columns]
    top = max(totals, default=0.0)
    scale = plot_height / top if top > 0 else 0.0
    left = 8.0
    slot = (width - 2 * left) / len(columns)
    slanted, label_room = _labels_layout([c.label for c in columns], slot)
    base = 28.0 + 24.0 + plot_height  # the legend, the totals' line, the plot
    height = base + label_room + (12.0 if slanted else 0.0)
    bar_width = min(slot * 0.6, 64.0)
    parts = [_open(ident, title, description, width, height), Markup('<g class="legend">')]
    x = left
    for index, name in enumerate(series):
        parts.append(
            Markup(
                '<rect class="series-{n}" x="{x}" y="6" width="14" height="14"/>'
                '<text x="{tx}" y="18">{name}</text>'
            ).format(n=index % 8, x=_f(x), tx=_f(x + 20), name=name)
        )
        x += 28 + len(name) * _CHAR
    parts.append(Markup("</g>"))
    for position, (column, total) in enumerate(zip(columns, totals, strict=True)):
        centre = left + slot * (position + 0.5)
        parts.append(Markup('<g class="column">'))
        y = base
        for index, part in enumerate(column.parts):
            if (value := clean(part)) is None:
                continue
            tall = value * scale
            name = series[index] if index < len(series) else str(index + 1)
            y -= tall
            tip = f"{column.label}, {name}: {number(value)}"
            parts.append(
                _rect(f"bar series-{index % 8}", centre - bar_width / 2, y, bar_width, tall, tip)
            )
        shown = column.text if column.text is not None else number(total)
        parts.append(_value(centre, y - 6, shown))
        parts.append(_label(centre, base + 16, column.label, slanted))
        parts.append(Markup("</g>"))
    parts.append(_axis(left, width - left, base))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def share_bar(fraction: float | None, *, label: str, width: float = 120.0) -> Markup:
    """A small bar for a table row: a share from 0 to 1 (clamped) of a track; None: the
    track alone."""
    value = clean(fraction)
    parts = [
        Markup(
            '<svg class="share" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} 12"'
            ' width="{w}" height="12" role="img" aria-label="{label}"><title>{label}</title>'
            '<rect class="track" x="0" y="0" width="{w}" height="12"/>'
        ).format(w=_f(width), label=label)
    ]
    if value is not None:
        parts.append(
            Markup('<rect class="bar" x="0" y="0" width="{w}" height="12"/>').format(
                w=_f(min(value, 1.0) * width)
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
