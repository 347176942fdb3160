"""The /opportunities page: search by borough, postcode district, service area, type and value; feed links; the
links shown on an opportunity's row page. Reads only the built database (status is derived at build time)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scripts.common.dates import needs_review
from scripts.common.opportunities import CURRENT, NO_DATES, TYPES

OUTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)(?: ?[0-9][A-Z]{2})?$")


RESULT_COLUMNS = [
    "reference", "title", "funder", "buyer_or_funder", "opportunity_type", "service_area", "coverage",
    "eligible_area", "eligible_borough_count", "value_min_gbp", "value_max_gbp", "value_note", "opening_date",
    "closing_date", "days_until_closing", "status", "status_reason", "how_to_apply_url", "source_title", "source_url",
]


class SearchError(ValueError):
    """A filter cannot be applied; the message is shown on the page."""


@dataclass
class Filters:
    borough: str = ""  # GSS code or borough name
    postcode: str = ""  # postcode district (or a full postcode)
    service_area: str = ""
    opportunity_type: str = ""
    min_value: float | None = None
    max_value: float | None = None
    q: str = ""
    include_closed: bool = False

    @classmethod
    def from_args(cls, args) -> Filters:
        """From a request's query string (a mapping); bad numbers raise SearchError."""

        def number(name):
            text = (args.get(name) or "").strip().replace(",", "").lstrip("£")
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise SearchError(f"'{args.get(name)}' is not an amount in pounds (write 50000, not £50k).") from None
            if value < 0:
                raise SearchError("Amounts cannot be negative.")
            return value

        return cls(
            borough=(args.get("borough") or "").strip(),
            postcode=(args.get("postcode") or "").strip(),
            service_area=(args.get("service_area") or "").strip(),
            opportunity_type=(args.get("opportunity_type") or "").strip(),
            min_value=number("min_value"),
            max_value=number("max_value"),
            q=(args.get("q") or "").strip(),
            include_closed=(args.get("include_closed") or "") in ("1", "on", "true"),
        )


@dataclass
class Place:
    label: str
    gss_code: str
    borough: str


@dataclass
class SearchResult:
    filters: Filters
    place: Place | None = None
    rows: list[dict] = field(default_factory=list)
    error: str | None = None
    total_recorded: int = 0
    total_current: int = 0
    build_date: str | None = None


def outcode_of(text: str) -> str | None:
    match = OUTCODE.match(re.sub(r"\s+", " ", (text or "").strip().upper()))
    return match.group(1) if match else None


def resolve_place(conn, filters: Filters) -> Place | None:
    """The borough a postcode district (preferred) or borough code/name points to; None if neither is given."""
    if filters.postcode:
        outcode = outcode_of(filters.postcode)
        if outcode is None:
            raise SearchError(f"'{filters.postcode}' is not a postcode district such as SE1 or CR0.")
        row = conn.execute(
            "SELECT p.outcode, p.gss_code, b.name FROM postcode_districts p JOIN boroughs b ON b.gss_code = p.gss_code "
            "WHERE p.outcode = ?", [outcode]
        ).fetchone()
        if row is None:
            raise SearchError(f"{outcode} is not in this publication's list of London postcode districts.")
        return Place(f"{row[0]} (in {row[2]})", row[1], row[2])
    if filters.borough:
        row = conn.execute(
            "SELECT gss_code, name FROM boroughs WHERE gss_code = :b OR lower(name) = lower(:b)", {"b": filters.borough}
        ).fetchone()
        if row is None:
            raise SearchError(f"'{filters.borough}' is not a London borough name or GSS code.")
        return Place(row[1], row[0], row[1])
    return None


def fts_query(text: str) -> str:
    """Each word as a quoted FTS5 prefix term, so punctuation in user input cannot break the query."""
    words = re.findall(r"\w+", text)
    return " ".join(f'"{w}"*' for w in words)


def find_opportunities(conn, filters: Filters) -> SearchResult:
    """Opportunities matching the filters; open and upcoming only unless include_closed; soonest deadline first."""
    result = SearchResult(filters)
    result.total_recorded = conn.execute("SELECT COUNT(*) FROM funding_opportunities").fetchone()[0]
    result.total_current = conn.execute(
        f"SELECT COUNT(*) FROM funding_opportunities WHERE status IN ({', '.join('?' * len(CURRENT))})", CURRENT
    ).fetchone()[0]
    build = conn.execute("SELECT value FROM build_info WHERE key = 'build_date'").fetchone()
    result.build_date = build[0] if build else None
    try:
        result.place = resolve_place(conn, filters)
    except SearchError as exc:
        result.error = str(exc)
        return result
    where, params = [], {}
    if not filters.include_closed:
        where.append(f"o.status IN ({', '.join(f':s{i}' for i in range(len(CURRENT)))})")
        params.update({f"s{i}": s for i, s in enumerate(CURRENT)})
    if result.place:
        where.append("o.reference IN (SELECT reference FROM opportunity_eligible_boroughs WHERE gss_code = :gss)")
        params["gss"] = result.place.gss_code
    if filters.service_area:
        where.append("o.service_area = :service_area")
        params["service_area"] = filters.service_area
    if filters.opportunity_type:
        where.append("o.opportunity_type = :opportunity_type")
        params["opportunity_type"] = filters.opportunity_type
    if filters.min_value is not None:
        where.append("COALESCE(o.value_max_gbp, o.value_min_gbp) >= :min_value")
        params["min_value"] = filters.min_value
    if filters.max_value is not None:
        where.append("COALESCE(o.value_min_gbp, o.value_max_gbp) <= :max_value")
        params["max_value"] = filters.max_value
    if filters.q and fts_query(filters.q):
        where.append(
            "o.rowid IN (SELECT rowid FROM funding_opportunities_fts WHERE funding_opportunities_fts MATCH :q)"
        )
        params["q"] = fts_query(filters.q)
    sql = (
        f"SELECT {', '.join('o.' + c for c in RESULT_COLUMNS)} FROM funding_opportunities o"
        + (" WHERE " + " AND ".join(where) if where else "")
        # Open and upcoming first (soonest closing date first), then those without dates, then closed (latest first).
        + " ORDER BY CASE WHEN o.status = 'closed' THEN 2 WHEN o.status = :no_dates THEN 1 ELSE 0 END,"
        " o.closing_date IS NULL,"
        " CASE WHEN o.status = 'closed' THEN -julianday(o.closing_date) ELSE julianday(o.closing_date) END,"
        " o.opening_date IS NULL, o.opening_date, o.title"
    )
    params["no_dates"] = NO_DATES
    result.rows = [dict(zip(RESULT_COLUMNS, row, strict=True)) for row in conn.execute(sql, params)]
    return result


def choices(conn) -> dict:
    """Options for the page's select boxes."""
    return {
        "boroughs": conn.execute("SELECT gss_code, name FROM boroughs ORDER BY name").fetchall(),
        "service_areas": conn.execute(
            "SELECT service_area, label FROM service_area_taxonomy ORDER BY label"
        ).fetchall(),
        "types": TYPES,
    }


def value_text(low, high) -> str:
    """A value range in words: £5,000 to £20,000; up to £20,000; from £5,000; not published."""
    if low is not None and high is not None:
        return f"£{low:,.0f}" if low == high else f"£{low:,.0f} to £{high:,.0f}"
    if high is not None:
        return f"£{high:,.0f}"
    if low is not None:
        return f"from £{low:,.0f}"
    return "not published"


def feed_links(db_name: str, result: SearchResult) -> list[dict]:
    """Calendar and Atom subscriptions matching the current borough / service area filters."""
    from urllib.parse import urlencode

    base = f"/{db_name}"
    links = [
        {"label": "Calendar of every closing date (iCalendar)", "href": f"{base}/opportunity_closing_dates.ics"},
        {"label": "New and changed opportunities (Atom feed)", "href": f"{base}/opportunities_feed.atom"},
    ]
    if result.place:
        query = urlencode({"borough": result.place.gss_code})
        links.append({"label": f"Closing dates of opportunities open to {result.place.borough} (iCalendar)",
                      "href": f"{base}/opportunity_closing_dates_for_borough.ics?{query}"})
    if result.filters.service_area:
        query = urlencode({"service_area": result.filters.service_area})
        links.append({"label": f"Closing dates in the service area {result.filters.service_area} (iCalendar)",
                      "href": f"{base}/opportunity_closing_dates_for_service_area.ics?{query}"})
    return links


def row_links(db_name: str, reference: str) -> dict:
    """Addresses of an opportunity's row page, eligible-area map and related services."""
    from urllib.parse import urlencode

    from datasette.utils import tilde_encode

    query = urlencode({"reference": reference})
    return {
        "row": f"/{db_name}/funding_opportunities/{tilde_encode(reference)}",
        "map": f"/{db_name}/opportunity_eligible_area_map?{query}",
        "services": f"/{db_name}/opportunity_related_services?{query}",
    }


def page_context(conn, args, db_name: str) -> dict:
    """Everything the /opportunities page shows, for one database."""
    try:
        filters = Filters.from_args(args)
        error = None
    except SearchError as exc:
        filters, error = Filters(), str(exc)
    result = find_opportunities(conn, filters)
    if error:
        result.error, result.rows = error, []
    for row in result.rows:
        row["links"] = row_links(db_name, row["reference"])
        row["value_text"] = value_text(row["value_min_gbp"], row["value_max_gbp"])
    return {
        "result": result,
        "choices": choices(conn),
        "feeds": feed_links(db_name, result),
        "filtered": any([filters.borough, filters.postcode, filters.service_area, filters.opportunity_type,
                         filters.min_value is not None, filters.max_value is not None, filters.q]),
    }




def review_note(row: dict, today) -> str | None:
    """What the opportunity's page says when it is due for review (None when it is not)."""
    reason = needs_review(row.get("last_verified"), row.get("review_due"), today)
    if reason is None:
        return None
    return (f"This notice was last checked against its source on {row.get('last_verified') or 'no recorded date'} "
            f"and was due for review on {row.get('review_due') or 'no recorded date'} ({reason}): check the source "
            "before relying on its dates.")
