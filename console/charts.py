"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, nothing to keep up to date.

Each function takes plain numbers and returns markup safe to put in a template. Labels are escaped;
every bar or point has a <title>, which browsers show on hover. A chart of two series or more has a
legend; labels are never clipped: the right margin holds half of the last x label, and a long
horizontal-bar label wraps onto a second line rather than being cut.
"""
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 860, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 36, 14, 34
LEGEND_ROW = 20  # the height a legend adds above the plot
COLORS = ("#264b5d", "#e07a1f", "#4f9d69", "#b03a48", "#7a5ea8")


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _svg(label: str, body: list[str], width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    return mark_safe(
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(label)}</title>{"".join(body)}</svg>')


def _axes(top: float, unit: str, width: int, height: int) -> list[str]:
    plot_bottom = height - MARGIN_BOTTOM
    parts = []
    for fraction in (0, 0.5, 1):
        y = plot_bottom - fraction * (plot_bottom - MARGIN_TOP)
        parts.append(f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{width - MARGIN_RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                     f'{escape(_number(top * fraction))}{escape(unit)}</text>')
    return parts


def _x_labels(labels: list[str], x_of, height: int, every: int) -> list[str]:
    return [f'<text x="{x_of(i):.1f}" y="{height - MARGIN_BOTTOM + 16}" text-anchor="middle" class="tick">'
            f'{escape(label)}</text>' for i, label in enumerate(labels) if i % every == 0]


def _legend(entries: list[tuple[str, str]], top: float = 4) -> list[str]:
    """Colour swatches with their names, in a row above the plot."""
    parts, x = [], MARGIN_LEFT
    for name, color in entries:
        parts.append(f'<g class="legend-item"><rect x="{x}" y="{top}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{x + 17}" y="{top + 11}" class="legend">{escape(name)}</text></g>')
        x += 30 + 7 * len(name)
    return parts


def bar_chart(label: str, points: list[tuple[str, float]], unit: str = "", color: str = COLORS[0],
              stacked: list[float] | None = None, stacked_label: str = "", width: int = WIDTH,
              height: int = HEIGHT, max_labels: int = 12, series_label: str = "") -> SafeString:
    """Vertical bars; `stacked` adds a second segment on top of each bar (e.g. the rest of a turn after
    TTFT), and then a legend above the plot names both (`series_label`, `stacked_label`)."""
    if not points:
        return empty(label, width)
    totals = [value + (stacked[i] if stacked else 0) for i, (_, value) in enumerate(points)]
    top = _nice_max(max(totals))
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / len(points)
    bar_w = max(1.0, slot * 0.75)
    body = _axes(top, unit, width, height)
    base = height - MARGIN_BOTTOM
    for i, (name, value) in enumerate(points):
        x = MARGIN_LEFT + i * slot + (slot - bar_w) / 2
        h = value / top * plot_h
        body.append(f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{color}"><title>{escape(name)}: {escape(_number(value))}{escape(unit)}</title></rect>')
        if stacked:
            h2 = stacked[i] / top * plot_h
            body.append(f'<rect class="bar rest" x="{x:.1f}" y="{base - h - h2:.1f}" width="{bar_w:.1f}" '
                        f'height="{h2:.1f}" fill="{COLORS[1]}" opacity="0.55"><title>{escape(name)}: '
                        f'{escape(stacked_label)} {escape(_number(stacked[i]))}{escape(unit)}</title></rect>')
    every = max(1, -(-len(points) // max_labels))
    body += _x_labels([name for name, _ in points], lambda i: MARGIN_LEFT + (i + 0.5) * slot, height, every)
    if not stacked:
        return _svg(label, body, width, height)
    legend = _legend([(series_label or label, color), (stacked_label or "the rest", COLORS[1])])
    return _svg(label, legend + [f'<g transform="translate(0 {LEGEND_ROW})">', *body, "</g>"], width,
                height + LEGEND_ROW)


def line_chart(label: str, labels: list[str], series: dict[str, list[float | None]], unit: str = "",
               width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    """One line per series over the same x labels; None is a gap."""
    values = [v for line in series.values() for v in line if v is not None]
    if not labels or not values:
        return empty(label, width)
    top = _nice_max(max(values))
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    base = height - MARGIN_BOTTOM

    def x_of(i):
        return MARGIN_LEFT + (plot_w / 2 if len(labels) == 1 else i * plot_w / (len(labels) - 1))

    body = _axes(top, unit, width, height)
    for n, (name, line) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        points = [(x_of(i), base - v / top * plot_h, v, labels[i]) for i, v in enumerate(line) if v is not None]
        if len(points) > 1:
            body.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2.5" points="'
                        + " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points) + '"/>')
        for x, y, v, day in points:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{escape(name)} {escape(day)}: '
                        f'{escape(_number(v))}{escape(unit)}</title></circle>')
    body += _x_labels(labels, x_of, height, max(1, -(-len(labels) // 10)))
    legend = _legend([(name, COLORS[n % len(COLORS)]) for n, name in enumerate(series)])
    return _svg(label, legend + [f'<g transform="translate(0 {LEGEND_ROW})">', *body, "</g>"], width,
                height + LEGEND_ROW)


def hbar_chart(label: str, items: list[tuple[str, float]], unit: str = "", color: str = COLORS[3],
               width: int = 420) -> SafeString:
    """Horizontal bars, largest first (tool errors, handoff reasons)."""
    if not items:
        return empty(label, width)
    items = sorted(items, key=lambda item: -item[1])[:10]
    row, label_w = 36, 170
    height = MARGIN_TOP + row * len(items) + 8
    top = max(value for _, value in items) or 1
    body = []
    for i, (name, value) in enumerate(items):
        y = MARGIN_TOP + i * row
        w = value / top * (width - label_w - 60)
        lines = _wrap(name, HBAR_LABEL_CHARS)
        first = y + 20 - 7 * (len(lines) - 1)
        spans = "".join(f'<tspan x="{label_w - 8}" y="{first + 14 * n}">{escape(line)}</tspan>'
                        for n, line in enumerate(lines))
        body.append(f'<text text-anchor="end" class="tick">{spans}</text>'
                    f'<rect class="bar" x="{label_w}" y="{y + 7}" width="{max(w, 1):.1f}" height="{row - 14}" '
                    f'fill="{color}"><title>{escape(name)}: {escape(_number(value))}{escape(unit)}</title></rect>'
                    f'<text x="{label_w + w + 6:.1f}" y="{y + 24}" class="tick">{escape(_number(value))}{escape(unit)}</text>')
    return _svg(label, body, width, height)


HBAR_LABEL_CHARS = 24  # per line of a horizontal bar's label (two lines at most)


def _wrap(text: str, limit: int) -> list[str]:
    """`text` in at most two lines of `limit` characters, broken at spaces; only what does not fit two
    lines is cut (with "…")."""
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    if len(lines) > 2 or any(len(line) > limit for line in lines):
        second = " ".join(lines[1:])
        lines = [lines[0][:limit - 1] + "…" if len(lines[0]) > limit else lines[0],
                 second if len(second) <= limit else second[:limit - 1] + "…"]
    return [line for line in lines if line]


def gauge(label: str, fraction: float | None, width: int = 420) -> SafeString:
    """A ratio as a horizontal meter with its percentage (containment)."""
    if fraction is None:
        return empty(label, width)
    height, bar_w = 70, width - 40
    filled = bar_w * max(0.0, min(1.0, fraction))
    body = [f'<rect x="20" y="30" width="{bar_w}" height="22" rx="4" fill="#e3e8ec"/>',
            f'<rect class="bar" x="20" y="30" width="{filled:.1f}" height="22" rx="4" fill="{COLORS[2]}">'
            f'<title>{escape(label)}: {fraction:.0%}</title></rect>',
            f'<text x="20" y="22" class="big">{fraction:.0%}</text>']
    return _svg(label, body, width, height)


def empty(label: str, width: int = WIDTH) -> SafeString:
    return _svg(label, [f'<text x="{width / 2}" y="40" text-anchor="middle" class="tick">No data in this period</text>'],
                width, 60)
