"""Small server-side SVG charts and a borough map: no JavaScript, no map tiles, readable by screen readers.

Each function returns an SVG string with role="img", a <title> and a <desc>; pages also show the same figures
as a table. Colours are from a colour-blind-safe sequential blue scale and the two inner/outer hues.
"""

from __future__ import annotations

import json
import math
from html import escape

BLUES = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
NO_DATA = "#f3f2f1"
SERIES = ["#1d70b8", "#d4351c", "#505a5f"]  # fund, crime, population
INNER_OUTER = {"Inner London": "#1d70b8", "Outer London": "#d4351c"}


def _open(width: float, height: float, title: str, desc: str, ident: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" class="chart" id="{ident}" style="max-width:{width:.0f}px;width:100%">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
    )


def class_breaks(values: list[float], classes: int = 5) -> list[float]:
    """Upper bounds of equal-count (quantile) classes; the last bound is the maximum."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return []
    bounds = []
    for i in range(1, classes + 1):
        index = min(len(ordered) - 1, math.ceil(i * len(ordered) / classes) - 1)
        bound = ordered[index]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return bounds


def colour_for(value: float | None, bounds: list[float]) -> str:
    if value is None or not bounds:
        return NO_DATA
    for i, bound in enumerate(bounds):
        if value <= bound:
            return BLUES[round(i * (len(BLUES) - 1) / max(len(bounds) - 1, 1))]
    return BLUES[-1]


def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def project(boroughs: list[dict], width: float) -> tuple[dict[str, str], float]:
    """SVG path data per gss_code for an equirectangular projection scaled by cos(latitude); returns (paths, height)."""
    rings = {b["gss_code"]: _rings(json.loads(b["geometry"])) for b in boroughs if b.get("geometry")}
    points = [p for rs in rings.values() for ring in rs for p in ring]
    if not points:
        return {}, 0.0
    min_lon, max_lon = min(p[0] for p in points), max(p[0] for p in points)
    min_lat, max_lat = min(p[1] for p in points), max(p[1] for p in points)
    x_scale = math.cos(math.radians((min_lat + max_lat) / 2))
    scale = (width - 20) / ((max_lon - min_lon) * x_scale)
    height = (max_lat - min_lat) * scale + 20
    paths = {}
    for code, rs in rings.items():
        parts = []
        for ring in rs:
            coords = [f"{10 + (lon - min_lon) * x_scale * scale:.1f},{10 + (max_lat - lat) * scale:.1f}"
                      for lon, lat in ring]
            parts.append("M" + "L".join(coords) + "Z")
        paths[code] = "".join(parts)
    return paths, height


def choropleth(boroughs: list[dict], values: dict[str, float | None], *, title: str, desc: str, ident: str,
               value_label, no_data_label: str, excluded: dict[str, str] | None = None, width: float = 640) -> str:
    """A borough map shaded by `values` (gss_code -> number or None). `excluded` maps gss_code -> reason (hatched)."""
    excluded = excluded or {}
    paths, height = project(boroughs, width)
    bounds = class_breaks([v for code, v in values.items() if code not in excluded])
    legend_height = 22 * (len(bounds) + 2) + 10
    out = [_open(width, height + legend_height, title, desc, ident)]
    out.append(f'<defs><pattern id="{ident}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
               '<line x1="0" y1="0" x2="0" y2="6" stroke="#505a5f" stroke-width="2"/></pattern></defs>')
    names = {b["gss_code"]: b["name"] for b in boroughs}
    for code, d in paths.items():
        if code in excluded:
            fill, label = f"url(#{ident}-hatch)", f"{names[code]}: {excluded[code]}"
        else:
            value = values.get(code)
            fill = colour_for(value, bounds)
            label = f"{names[code]}: {no_data_label if value is None else value_label(value)}"
        out.append(f'<path d="{d}" fill="{fill}" stroke="#0b0c0c" stroke-width="0.6" data-gss="{code}">'
                   f"<title>{escape(label)}</title></path>")
    y = height + 10
    lower = None
    for i, bound in enumerate(bounds):
        text = f"up to {value_label(bound)}" if lower is None else f"{value_label(lower)} to {value_label(bound)}"
        out.append(f'<rect x="10" y="{y:.0f}" width="18" height="14" fill="{colour_for(bound, bounds)}" '
                   'stroke="#0b0c0c"/>'
                   f'<text x="34" y="{y + 12:.0f}" font-size="13">{escape(text)}</text>')
        lower, y = bound, y + 22
        del i
    out.append(f'<rect x="10" y="{y:.0f}" width="18" height="14" fill="{NO_DATA}" stroke="#0b0c0c"/>'
               f'<text x="34" y="{y + 12:.0f}" font-size="13">{escape(no_data_label)}</text>')
    if excluded:
        y += 22
        reason = "; ".join(sorted(set(excluded.values())))
        out.append(f'<rect x="10" y="{y:.0f}" width="18" height="14" fill="url(#{ident}-hatch)" stroke="#0b0c0c"/>'
                   f'<text x="34" y="{y + 12:.0f}" font-size="13">{escape(reason)}</text>')
    out.append("</svg>")
    return "".join(out)


def grouped_bars(rows: list[dict], series: list[tuple[str, str]], *, title: str, desc: str, ident: str,
                 unit: str = "%", width: float = 760) -> str:
    """Horizontal grouped bars: one group per row (row['label']), one bar per (key, legend name) in `series`."""
    bar, gap, label_width = 7, 8, 190
    group = bar * len(series) + gap
    top = 30
    height = top + group * len(rows) + 30
    top_value = max([r[k] or 0 for r in rows for k, _ in series] + [0.0001])
    scale = (width - label_width - 70) / top_value
    out = [_open(width, height, title, desc, ident)]
    x = label_width
    for i, (_, name) in enumerate(series):
        out.append(f'<rect x="{x}" y="6" width="14" height="12" fill="{SERIES[i % 3]}"/>'
                   f'<text x="{x + 18}" y="17" font-size="13">{escape(name)}</text>')
        x += 30 + 8 * len(name)
    for n, row in enumerate(rows):
        y = top + n * group
        out.append(f'<text x="{label_width - 6}" y="{y + group / 2:.0f}" font-size="12" text-anchor="end">'
                   f'{escape(row["label"])}</text>')
        for i, (key, name) in enumerate(series):
            value = row[key]
            if value is None:
                continue
            out.append(f'<rect x="{label_width}" y="{y + i * bar}" width="{value * scale:.1f}" height="{bar - 1}" '
                       f'fill="{SERIES[i % 3]}"><title>{escape(row["label"])}, {escape(name)}: '
                       f'{value:.2f}{unit}</title></rect>')
    axis_y = top + group * len(rows) + 4
    out.append(f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{axis_y}" stroke="#0b0c0c"/>')
    for tick in _ticks(top_value):
        tx = label_width + tick * scale
        out.append(f'<text x="{tx:.0f}" y="{axis_y + 16}" font-size="12" text-anchor="middle">{tick:g}{unit}</text>')
    out.append("</svg>")
    return "".join(out)


def _ticks(top: float, count: int = 5) -> list[float]:
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=magnitude)
    return [round(step * i, 6) for i in range(int(top // step) + 1)]


def line_chart(series: list[dict], *, title: str, desc: str, ident: str, unit: str = "%", highlight: str | None = None,
               width: float = 760, height: float = 380) -> str:
    """Lines over years. series: [{key, label, group, points: [(year, value)]}]; group picks the colour
    (INNER_OUTER); the `highlight` key is drawn thick and labelled."""
    years = sorted({year for s in series for year, _ in s["points"]})
    values = [v for s in series for _, v in s["points"] if v is not None]
    if not years or not values:
        return ""
    left, right, top, bottom = 50, 150, 30, 30
    top_value = max(values)
    def x_of(year):
        return left + (year - years[0]) * (width - left - right) / max(years[-1] - years[0], 1)

    def y_of(value):
        return top + (1 - value / top_value) * (height - top - bottom)

    out = [_open(width, height, title, desc, ident)]
    for tick in _ticks(top_value):
        y = y_of(tick)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end">{tick:g}{unit}</text>')
    for year in years:
        if year % 2 == 1 or len(years) < 8:
            out.append(f'<text x="{x_of(year):.1f}" y="{height - 8}" font-size="12" text-anchor="middle">{year}</text>')
    ordered = sorted(series, key=lambda s: s["key"] == highlight)
    for s in ordered:
        points = " ".join(f"{x_of(y):.1f},{y_of(v):.1f}" for y, v in s["points"] if v is not None)
        strong = s["key"] == highlight
        colour = "#0b0c0c" if strong else INNER_OUTER.get(s.get("group"), "#505a5f")
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{3.5 if strong else 1.2}" '
                   f'stroke-opacity="{1 if strong else 0.55}"><title>{escape(s["label"])}</title></polyline>')
        if strong and s["points"]:
            year, value = s["points"][-1]
            out.append(f'<text x="{x_of(year) + 6:.1f}" y="{y_of(value) + 4:.1f}" font-size="13" font-weight="bold">'
                       f'{escape(s["label"])}</text>')
    y = top
    for group, colour in INNER_OUTER.items():
        out.append(f'<line x1="{width - right + 20}" x2="{width - right + 44}" y1="{y}" y2="{y}" stroke="{colour}" '
                   f'stroke-width="3"/><text x="{width - right + 50}" y="{y + 4}" font-size="13">'
                   f'{escape(group)}</text>')
        y += 20
    out.append("</svg>")
    return "".join(out)
