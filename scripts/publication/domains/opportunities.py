"""Funding opportunities with derived status, calendar and feeds (issue 4).

`funding_opportunities` (data/mopac/) follows the Open Contracting Data Standard's tender fields; boroughs named
as eligible are in `opportunity_boroughs`. This module adds, at build time:
- `status` (planned / open / closing within 14 days / closed, or "dates not published") from the tender period
  and the build date (`context.today`), never typed in, with `status_reason` saying why;
- `opportunity_eligible_boroughs`: every borough an opportunity is open to (London-wide and national = all 33);
- `first_seen_on` / `last_changed_on`, compared with the database being replaced, for the Atom feed;
- `find_opportunities()`: the filters behind the /opportunities page (borough, postcode district, service area,
  type, value, full-text search);
- synthetic opportunities for the demo database, covering every status relative to the build date.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TAXONOMY_CSV = ROOT / "data" / "services" / "service_area_taxonomy.csv"
SYNTHETIC_URL = "https://example.org/synthetic"
SYNTHETIC_SOURCE = "Synthetic data (scripts/generate_synthetic.py)"

CLOSING_SOON_DAYS = 14
PLANNED, OPEN, CLOSING, CLOSED, NO_DATES = "planned", "open", "closing within 14 days", "closed", "dates not published"
STATUSES = [CLOSING, OPEN, PLANNED, CLOSED, NO_DATES]
CURRENT = (CLOSING, OPEN, PLANNED)  # "open and upcoming"
TYPES = ["grant call", "tender", "market engagement", "planned procurement"]
WHOLE_LONDON = ("london-wide", "national")

# ---------------------------------------------------------------------------------------------------------------
# Status


def _date(value) -> dt.date | None:
    if not value:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def derive_status(opening, closing, today: dt.date, contract_start=None) -> tuple[str, str]:
    """(status, reason) from the tender period (opening and closing dates) as at `today`.

    Closing today or within 14 days is "closing within 14 days"; closing yesterday or earlier is "closed"; an
    opening date after today is "planned". Without any tender date the status is "dates not published" (a passed
    contract start is mentioned in the reason, not turned into a status: the notice may have slipped).
    """
    opening, closing, contract_start = _date(opening), _date(closing), _date(contract_start)
    if closing is not None:
        days = (closing - today).days
        if days < 0:
            return CLOSED, f"closing date {closing} is before the build date {today}"
        if opening is not None and opening > today:
            return PLANNED, f"opens on {opening}, after the build date {today}; closes on {closing}"
        if days <= CLOSING_SOON_DAYS:
            when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
            return CLOSING, f"closes {when} ({closing}), within {CLOSING_SOON_DAYS} days of the build date {today}"
        return OPEN, f"closes on {closing}, {days} days after the build date {today}"
    if opening is not None:
        if opening > today:
            return PLANNED, f"opens on {opening}, after the build date {today}; no closing date published"
        return OPEN, f"opened on {opening}; no closing date published"
    reason = "no opening or closing date is published"
    if contract_start is not None and contract_start <= today:
        reason += f"; the stated contract start ({contract_start}) has passed, so bidding has probably closed"
    return NO_DATES, reason


def days_until(closing, today: dt.date) -> int | None:
    closing = _date(closing)
    return None if closing is None else (closing - today).days


# ---------------------------------------------------------------------------------------------------------------
# Eligible boroughs


def eligible_borough_rows(opportunities: list[dict], named: list[dict], borough_codes: list[str]) -> list[dict]:
    """(reference, gss_code, basis) for every borough an opportunity is open to: London-wide/national -> all 33."""
    by_reference: dict[str, set[str]] = {}
    for row in named:
        by_reference.setdefault(row["reference"], set()).add(row["gss_code"])
    rows = []
    for opportunity in opportunities:
        if opportunity["coverage"] in WHOLE_LONDON:
            codes, basis = borough_codes, opportunity["coverage"]
        else:
            codes, basis = sorted(by_reference.get(opportunity["reference"], ())), "named borough"
        rows += [{"reference": opportunity["reference"], "gss_code": code, "basis": basis} for code in codes]
    return rows


def area_label(coverage: str, names: list[str]) -> str:
    if coverage == "london-wide":
        return "London-wide (all 33 boroughs)"
    if coverage == "national":
        return "National (includes all 33 London boroughs)"
    if not names:
        return "No borough named"
    return f"{len(names)} borough{'s' if len(names) != 1 else ''}: " + ", ".join(names)


# ---------------------------------------------------------------------------------------------------------------
# Change dates for the Atom feed


def content_hash(row: dict, field_names: list[str]) -> str:
    text = json.dumps([row.get(name) for name in field_names], ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def previous_versions(previous_db: Path | None) -> dict[str, tuple[str, str, str]]:
    """reference -> (content_hash, first_seen_on, last_changed_on) in the database being replaced, if it has them."""
    if previous_db is None or not Path(previous_db).exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{previous_db}?mode=ro", uri=True)
        try:
            return {
                r[0]: (r[1], r[2], r[3])
                for r in conn.execute(
                    "SELECT reference, content_hash, first_seen_on, last_changed_on FROM funding_opportunities"
                )
            }
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def change_dates(reference: str, digest: str, previous: dict, today: dt.date) -> tuple[str, str]:
    """(first_seen_on, last_changed_on): kept from the previous build when the row is unchanged."""
    before = previous.get(reference)
    if before is None or not before[1]:
        return today.isoformat(), today.isoformat()
    old_hash, first_seen, last_changed = before
    if old_hash == digest and last_changed:
        return first_seen, last_changed
    return first_seen, today.isoformat()


# ---------------------------------------------------------------------------------------------------------------
# derive / check / rules

ELIGIBLE_AREAS_VIEW = """
CREATE VIEW opportunity_eligible_areas AS
SELECT
  o.reference,
  o.title,
  o.status,
  o.coverage,
  COUNT(e.gss_code) AS eligible_borough_count,
  json_object(
    'type', 'FeatureCollection',
    'features', json_group_array(json_object(
      'type', 'Feature',
      'properties', json_object('gss_code', b.gss_code, 'name', b.name),
      'geometry', json(b.geometry)
    ))
  ) AS geometry
FROM funding_opportunities o
JOIN opportunity_eligible_boroughs e ON e.reference = o.reference
JOIN boroughs b ON b.gss_code = e.gss_code
GROUP BY o.reference
"""

DERIVED_COLUMNS = {
    "status": str,
    "status_reason": str,
    "days_until_closing": int,
    "eligible_borough_count": int,
    "eligible_area": str,
    "content_hash": str,
    "first_seen_on": str,
    "last_changed_on": str,
}


def derive(db, context) -> None:
    table = context.tables["funding_opportunities"]
    field_names = table.resource.field_names
    borough_names = dict(db.execute("SELECT gss_code, name FROM boroughs ORDER BY gss_code").fetchall())
    opportunities = list(db["funding_opportunities"].rows)
    named = list(db["opportunity_boroughs"].rows)
    eligible = eligible_borough_rows(opportunities, named, list(borough_names))
    for row in eligible:
        row["borough"] = borough_names[row["gss_code"]]
    db["opportunity_eligible_boroughs"].create(
        {"reference": str, "gss_code": str, "borough": str, "basis": str},
        foreign_keys=[("reference", "funding_opportunities", "reference"), ("gss_code", "boroughs", "gss_code")],
        not_null={"reference", "gss_code"},
    )
    db.conn.executemany(
        "INSERT INTO opportunity_eligible_boroughs (reference, gss_code, borough, basis) VALUES (?, ?, ?, ?)",
        [(row["reference"], row["gss_code"], row["borough"], row["basis"]) for row in eligible],
    )
    db["opportunity_eligible_boroughs"].create_index(["reference", "gss_code"], unique=True)
    db["opportunity_eligible_boroughs"].create_index(["gss_code"])

    names: dict[str, list[str]] = {}
    for row in eligible:
        names.setdefault(row["reference"], []).append(row["borough"])
    previous = previous_versions(context.previous_db)
    for name, kind in DERIVED_COLUMNS.items():
        db["funding_opportunities"].add_column(name, kind)
    updates = []
    for opportunity in opportunities:
        status, reason = derive_status(
            opportunity["opening_date"], opportunity["closing_date"], context.today, opportunity["contract_start_date"]
        )
        digest = content_hash(opportunity, field_names)
        first_seen, last_changed = change_dates(opportunity["reference"], digest, previous, context.today)
        area_names = names.get(opportunity["reference"], [])
        updates.append([
            status, reason, days_until(opportunity["closing_date"], context.today), len(area_names),
            area_label(opportunity["coverage"], sorted(area_names)), digest, first_seen, last_changed,
            opportunity["reference"],
        ])
    db.conn.executemany(
        "UPDATE funding_opportunities SET " + ", ".join(f"{c} = ?" for c in DERIVED_COLUMNS) + " WHERE reference = ?",
        updates,
    )
    db["funding_opportunities"].create_index(["status"], if_not_exists=True)
    db.execute(ELIGIBLE_AREAS_VIEW)


def check(db, context=None) -> list:
    """Whole-London opportunities are open to all 33 boroughs. Problems name the CSV as validation does (data/...)."""
    from ..package import Problem, resource_display_path

    where = resource_display_path(context, "funding_opportunities")
    problems = []
    for reference, coverage, count in db.execute(
        "SELECT reference, coverage, eligible_borough_count FROM funding_opportunities"
    ):
        if coverage in WHOLE_LONDON and count != 33:
            problems.append(Problem(where, 0, "coverage", f"{reference}: {coverage} covers {count} boroughs, not 33"))
    return problems


def _rule_boroughs_match_coverage(tables) -> list:
    from ..package import Problem

    if "funding_opportunities" not in tables or "opportunity_boroughs" not in tables:
        return []
    opportunities = tables["funding_opportunities"]
    coverage = {row["reference"]: row["coverage"] for _, row in opportunities.rows}
    where = tables["opportunity_boroughs"].resource.display_path
    problems = []
    listed = set()
    for number, row in tables["opportunity_boroughs"].rows:
        listed.add(row["reference"])
        if coverage.get(row["reference"]) in WHOLE_LONDON:
            problems.append(Problem(where, number, "reference", f"{row['reference']} is {coverage[row['reference']]}: "
                                    "list no boroughs for it (it is expanded to all 33 automatically)"))
    for number, row in opportunities.rows:
        if row["coverage"] == "boroughs" and row["reference"] not in listed:
            problems.append(Problem(opportunities.resource.display_path, number, "coverage",
                                    f"coverage is 'boroughs' but {where} names no borough for {row['reference']}"))
    return problems


def _rule_value_range(tables) -> list:
    from ..package import Problem

    if "funding_opportunities" not in tables:
        return []
    table = tables["funding_opportunities"]
    problems = []
    for number, row in table.rows:
        low, high = row.get("value_min_gbp"), row.get("value_max_gbp")
        if low is not None and high is not None and low > high:
            problems.append(Problem(table.resource.display_path, number, "value_max_gbp",
                                    f"highest value {high:g} is below the lowest value {low:g}"))
    return problems


RULES = [_rule_boroughs_match_coverage, _rule_value_range]

# ---------------------------------------------------------------------------------------------------------------
# Search (the /opportunities page)

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


# ---------------------------------------------------------------------------------------------------------------
# Synthetic demo rows


def synthesize(rng, size, context):
    today = context.today
    boroughs = [b["gss_code"] for b in context.boroughs]
    taxonomy = context.produced.get("service_area_taxonomy")
    if not taxonomy:
        with TAXONOMY_CSV.open(encoding="utf-8-sig", newline="") as handle:
            taxonomy = list(csv.DictReader(handle))
    areas = [t["service_area"] for t in taxonomy]
    funders = ["MOPAC", "VRU", "LCPF", "MOPAC and VRU"]
    # One of each status first (relative to the build date), then a random mix.
    offsets = [(-30, -5), (-20, 0), (-20, 14), (-10, 15), (10, 40), None]
    opportunities, named = [], []
    for i in range(1, max(size // 10, 12) + 1):
        reference = f"SYN-OPP-{i:04d}"
        if i <= len(offsets):
            window = offsets[i - 1]
        else:
            window = rng.choice([
                (-rng.randint(30, 200), -rng.randint(1, 29)),  # closed
                (-rng.randint(5, 60), rng.randint(0, 14)),  # closing within 14 days
                (-rng.randint(5, 60), rng.randint(15, 120)),  # open
                (rng.randint(1, 60), rng.randint(61, 150)),  # planned
                None,  # dates not published
            ])
        opening = closing = None
        if window is not None:
            opening, closing = today + dt.timedelta(days=window[0]), today + dt.timedelta(days=window[1])
        coverage = "london-wide" if rng.random() < 0.3 else "boroughs"
        low = rng.randint(1, 20) * 5_000 if rng.random() < 0.4 else None
        high = (low or 0) + rng.randint(1, 60) * 10_000 if rng.random() < 0.85 else None
        start = (closing or today) + dt.timedelta(days=rng.randint(30, 120))
        opportunity_type = rng.choice(TYPES)
        area = rng.choice(areas)
        opportunities.append({
            "reference": reference,
            "ocid": f"ocds-synthetic-{i:06d}" if rng.random() < 0.5 else None,
            "title": f"Synthetic {opportunity_type} {i}",
            "description": f"Synthetic {area.replace('-', ' ')} opportunity invented for the demo database.",
            "buyer_or_funder": "Synthetic funder",
            "funder": rng.choice(funders),
            "opportunity_type": opportunity_type,
            "type_as_stated": "synthetic",
            "service_area": area,
            "eligible_applicants": "Synthetic applicants",
            "coverage": coverage,
            "value_min_gbp": low,
            "value_max_gbp": high,
            "value_note": "synthetic",
            "contract_or_grant_period": "two years (synthetic)",
            "contract_start_date": start.isoformat(),
            "contract_end_date": (start + dt.timedelta(days=729)).isoformat(),
            "notice_date": (opening or today - dt.timedelta(days=rng.randint(1, 90))).isoformat(),
            "opening_date": opening.isoformat() if opening else None,
            "closing_date": closing.isoformat() if closing else None,
            "status_as_recorded": "synthetic",
            "how_to_apply_url": f"{SYNTHETIC_URL}/apply/{i:04d}" if rng.random() < 0.7 else None,
            "source_title": SYNTHETIC_SOURCE,
            "source_url": SYNTHETIC_URL,
        })
        if coverage == "boroughs":
            chosen = sorted(rng.sample(boroughs, rng.choice([1, 1, 2, 3, 6])))
            named += [{"reference": reference, "gss_code": code, "source_title": SYNTHETIC_SOURCE,
                       "source_url": SYNTHETIC_URL} for code in chosen]
    return {"funding_opportunities": opportunities, "opportunity_boroughs": named}
