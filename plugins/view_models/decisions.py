"""The decision page (issue 17): every row of one funding decision (all rows sharing its reference), what each
funds, its source and the source's own words, and the services that cite it; and the money helpers the service and
provider pages share (rows of money, totals by financial year, the bar chart).

Reads only the built database: funding_decisions with the financial years the build reads from financial_years
(scripts/publication/domains/funding_links.py), and service_funding (which service cites which decision)."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from datasette.utils import tilde_encode

from scripts.common.funding import NOT_STATED

DECISION_COLUMNS = (
    "d.record_id, d.reference, d.organisation, d.item, d.decision_by, d.theme, d.programme, d.recipient, "
    "d.recipient_organization_id, o.name AS recipient_name, d.borough, d.gss_code, d.amount_gbp, "
    "d.amount_as_stated, d.financial_years, d.financial_year, d.financial_year_start, d.financial_years_count, "
    "d.description, d.source_title, d.source_url, d.source_excerpt"
)
DECISION_FROM = "FROM funding_decisions d LEFT JOIN organizations o ON o.organization_id = d.recipient_organization_id"
ORDER = "ORDER BY d.financial_year_start IS NULL, d.financial_year_start, d.financial_years_count, d.record_id"


def rows(conn, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def money(value) -> str:
    if value is None:
        return ""
    return f"£{value:,.0f}" if float(value).is_integer() else f"£{value:,.2f}"


def has_tables(conn, *names: str) -> bool:
    """Whether every one of the named tables (or views) is in the database."""
    wanted = set(names)
    marks = ", ".join("?" * len(wanted))
    found = conn.execute(f"SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name IN ({marks})",
                         tuple(wanted)).fetchone()[0]
    return found == len(wanted)


def decision_path(reference: str) -> str:
    """The decision page's query string: ?reference=PCD+1560."""
    return "?" + urlencode({"reference": reference})


def with_display(found: list[dict]) -> list[dict]:
    for row in found:
        row["amount_display"] = money(row["amount_gbp"])
        row["year_display"] = row["financial_year"] or NOT_STATED
        row["decision_query"] = decision_path(row["reference"])
    return found


def decision_rows(conn, where: str, params=()) -> list[dict]:
    return with_display(rows(conn, f"SELECT {DECISION_COLUMNS} {DECISION_FROM} WHERE {where} {ORDER}", params))


def totals_by(found: list[dict], key: str, label_of=None) -> list[dict]:
    """Sum of the stated amounts per value of `key`, in the order the rows come (by year when sorted by year);
    rows without an amount are counted, never added as zero."""
    out: dict = {}
    for row in found:
        label = label_of(row) if label_of else row[key]
        entry = out.setdefault(label, {"label": label, "amount_gbp": None, "rows": 0, "rows_without_amount": 0,
                                       "record_ids": []})
        entry["rows"] += 1
        entry["record_ids"].append(row["record_id"])
        if row["amount_gbp"] is None:
            entry["rows_without_amount"] += 1
        else:
            entry["amount_gbp"] = (entry["amount_gbp"] or 0) + row["amount_gbp"]
    for entry in out.values():
        entry["amount_display"] = money(entry["amount_gbp"])
    return list(out.values())


def by_year(found: list[dict]) -> list[dict]:
    """Totals per financial year (or span of years, not divided), 'not stated as financial years' last."""
    return totals_by(found, "financial_year", lambda r: r["financial_year"] or NOT_STATED)


def total(found: list[dict]) -> float | None:
    amounts = [r["amount_gbp"] for r in found if r["amount_gbp"] is not None]
    return sum(amounts) if amounts else None


def year_chart(years: list[dict], *, title: str, ident: str, width: int = 360) -> str:
    """Horizontal bars, one per financial year (or span) with a stated amount: the year above its bar, the amount at
    its end, so the text stays legible when the chart shrinks to a 320-pixel screen. The table beside it on the page
    holds the same figures. Empty string when no year has an amount."""
    shown = [y for y in years if y["amount_gbp"] is not None and y["label"] != NOT_STATED]
    if not shown:
        return ""
    label, bar, gap, left = 18, 20, 12, 2
    step = label + bar + gap
    height = step * len(shown) + 4
    biggest = max(y["amount_gbp"] for y in shown) or 1
    room = width - left - 112
    desc = "; ".join(f"{y['label']}: {y['amount_display']}" for y in shown)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" class="chart" id="{ident}" style="max-width:{width + 60}px;width:100%">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
    ]
    for n, year in enumerate(shown):
        y = n * step
        length = max(1.0, year["amount_gbp"] / biggest * room)
        out.append(
            f'<text x="{left}" y="{y + 14}" font-size="15" font-weight="bold">{escape(year["label"])}</text>'
            f'<rect x="{left}" y="{y + label}" width="{length:.1f}" height="{bar}" fill="#1d70b8"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + label + 15}" font-size="15">{escape(year["amount_display"])}'
            "</text>"
        )
    out.append("</svg>")
    return "".join(out)


def services_citing(conn, reference: str) -> list[dict]:
    """Services whose decision_refs name the reference or whose funding_record_ids list one of its rows."""
    if not has_tables(conn, "service_funding"):
        return []
    found = rows(conn, """
        SELECT s.service_id, s.name, s.status, s.start_date, s.end_date, s.commissioner,
          group_concat(f.record_id, ';') AS record_ids, max(f.cited_as = 'reference') AS by_reference
        FROM service_funding f JOIN services s ON s.service_id = f.service_id
        WHERE f.reference = ? GROUP BY s.service_id ORDER BY s.name""", [reference])
    for service in found:
        service["record_ids"] = [int(r) for r in (service["record_ids"] or "").split(";") if r]
        service["cited_as"] = "its decision references" if not service["record_ids"] else \
            "its funding decision rows " + ", ".join(str(r) for r in service["record_ids"])
    return found


def decision_detail(conn, reference: str, highlight: int | None = None) -> dict | None:
    """Everything the decision page shows for one reference (None when no row has it)."""
    found = decision_rows(conn, "d.reference = ?", [reference])
    if not found:
        return None
    for row in found:
        row["highlight"] = row["record_id"] == highlight
        row["recipient_path"] = tilde_encode(row["recipient_organization_id"]) \
            if row["recipient_organization_id"] else None
    sources = []
    for row in found:
        if row["source_url"] not in {s["url"] for s in sources}:
            sources.append({"title": row["source_title"], "url": row["source_url"]})
    services = services_citing(conn, reference)
    years = by_year(found)
    not_public = []
    if not services:
        not_public.append("No service in this publication cites this decision.")
    if all(r["amount_gbp"] is None for r in found):
        not_public.append("No row of this decision states an amount in pounds that could be transcribed.")
    if all(not r["source_excerpt"] for r in found):
        not_public.append("No excerpt of the source is recorded for this decision.")
    first = found[0]
    return {
        "reference": reference,
        "organisation": first["organisation"],
        "decision_by": first["decision_by"],
        "funded_items": sorted({r["item"] for r in found}),
        "rows": found,
        "row_count": len(found),
        "rows_with_amount": sum(1 for r in found if r["amount_gbp"] is not None),
        "by_year": years,
        "sources": sources,
        "services": services,
        "highlight": highlight,
        "not_public": not_public,
    }


def json_shape(detail: dict) -> dict:
    """The decision page as JSON (docs/pages-json.md): the same content, without display-only strings."""
    keep = ("reference", "organisation", "decision_by", "funded_items", "row_count", "rows_with_amount", "sources",
            "not_public")
    return {
        **{k: detail[k] for k in keep},
        "rows": [_plain(r, ("amount_display", "year_display", "decision_query", "highlight", "recipient_path"))
                 for r in detail["rows"]],
        "by_year": [_plain(y, ("amount_display",)) for y in detail["by_year"]],
        "services": [_plain(s, ("by_reference",)) for s in detail["services"]],
    }


def _plain(row: dict, drop: tuple[str, ...]) -> dict:
    return {k: v for k, v in row.items() if k not in drop}
