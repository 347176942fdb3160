"""Funding opportunities with derived status, calendar and feeds (issue 4).

`funding_opportunities` (data/mopac/) follows the Open Contracting Data Standard's tender fields; boroughs named
as eligible are in `opportunity_boroughs`. This module adds, at build time:
- `status` (planned / open / closing within 14 days / closed, or "dates not published") from the tender period
  and the build date (`context.today`), never typed in, with `status_reason` saying why;
- `opportunity_eligible_boroughs`: every borough an opportunity is open to (London-wide and national = all 33);
- (`first_seen_on` / `last_changed_on` for the Atom feed come from the change history: domains/changes.py);
- `find_opportunities()`: the filters behind the /opportunities page (borough, postcode district, service area,
  type, value, full-text search);
- synthetic opportunities for the demo database, covering every status relative to the build date.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from scripts.common.opportunities import (
    CLOSED,
    CLOSING,
    CLOSING_SOON_DAYS,
    NO_DATES,
    OPEN,
    PLANNED,
    TYPES,
    WHOLE_LONDON,
)

ROOT = Path(__file__).resolve().parents[3]
TAXONOMY_CSV = ROOT / "data" / "services" / "service_area_taxonomy.csv"
SYNTHETIC_URL = "https://example.org/synthetic"
SYNTHETIC_SOURCE = "Synthetic data (scripts/generate_synthetic.py)"


# ---------------------------------------------------------------------------------------------------------------
# Status


def _date(value) -> dt.date | None:
    if not value:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def derive_status(
    opening, closing, today: dt.date, contract_start=None, future_notice=None, planned: bool = False
) -> tuple[str, str]:
    """(status, reason) from the tender period (opening and closing dates) as at `today`.

    Closing today or within 14 days is "closing within 14 days"; closing yesterday or earlier is "closed"; an
    opening date after today is "planned". A planned procurement (a planning notice: no tender dates yet) is
    "planned", upcoming, while its tender notice is expected (future_notice on or after today) or its contract is
    still to start. Otherwise, without any tender date, the status is "dates not published" (a passed contract start
    is mentioned in the reason, not turned into a status: the notice may have slipped).
    """
    opening, closing, contract_start = _date(opening), _date(closing), _date(contract_start)
    future_notice = _date(future_notice)
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
    if planned and future_notice is not None and future_notice >= today:
        return PLANNED, f"a planned procurement: its tender notice is expected by {future_notice}"
    if planned and contract_start is not None and contract_start > today:
        expected = (f"; the tender notice was expected by {future_notice}, so look for it on Find a Tender"
                    if future_notice is not None else "; no tender dates are published yet")
        return PLANNED, f"a planned procurement: the contract is due to start on {contract_start}{expected}"
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
}


def derive(db, context) -> None:
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
    for name, kind in DERIVED_COLUMNS.items():
        db["funding_opportunities"].add_column(name, kind)
    updates = []
    for opportunity in opportunities:
        status, reason = derive_status(
            opportunity["opening_date"], opportunity["closing_date"], context.today, opportunity["contract_start_date"],
            future_notice=opportunity.get("future_notice_date"),
            planned=opportunity["opportunity_type"] == "planned procurement",
        )
        area_names = names.get(opportunity["reference"], [])
        updates.append([
            status, reason, days_until(opportunity["closing_date"], context.today), len(area_names),
            area_label(opportunity["coverage"], sorted(area_names)), opportunity["reference"],
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
            # Checked up to 150 days before the build, due three months later: some are overdue, as in life.
            "last_verified": (verified := today - dt.timedelta(days=(i * 37) % 150)).isoformat(),
            "review_due": (verified + dt.timedelta(days=91)).isoformat(),
        })
        if coverage == "boroughs":
            chosen = sorted(rng.sample(boroughs, rng.choice([1, 1, 2, 3, 6])))
            named += [{"reference": reference, "gss_code": code, "source_title": SYNTHETIC_SOURCE,
                       "source_url": SYNTHETIC_URL} for code in chosen]
    return {"funding_opportunities": opportunities, "opportunity_boroughs": named}
