"""The LCPF pages: allocations against need by borough, inner and outer London totals, crime share over time, and
the what-if explorer (modelled, not actual). Reads only the built database (tables and views made by
scripts/publication/domains/lcpf.py)."""

from __future__ import annotations

from dataclasses import dataclass

from scripts.common.lcpf import CITY_EXPLANATION, CITY_OF_LONDON, INDICATORS

from . import svg


def latest_direct_funding(conn) -> tuple[str | None, int | None]:
    """(financial year, amount) of the newest one-year programme total of LCPF direct funding to boroughs in
    lcpf_funding (transcribed from its MOPAC decision page): the explorer's starting fund total when a year's actual
    allocations are not all published. (None, None) when there is none."""
    row = conn.execute(
        "SELECT financial_years, amount_gbp FROM lcpf_funding WHERE level = 'programme' AND amount_gbp IS NOT NULL "
        "AND lower(component) LIKE 'direct%' AND financial_years NOT LIKE '%-%' ORDER BY financial_years DESC "
        "LIMIT 1").fetchone()
    return (row[0], round(row[1])) if row else (None, None)

@dataclass(frozen=True)
class Weights:
    population: float = 0.0
    total_recorded_crime: float = 0.0
    violence_against_the_person: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in INDICATORS}


class ModelError(ValueError):
    """Inputs the model cannot work with; the message is shown to the user."""


def need_shares(needs: list[dict], weights: Weights) -> dict[str, float]:
    """Each borough's weighted share of need (fractions adding up to 1)."""
    w = weights.as_dict()
    if any(v < 0 for v in w.values()):
        raise ModelError("weights cannot be negative")
    total_weight = sum(w.values())
    if total_weight <= 0:
        raise ModelError("give at least one weight above zero")
    shares = {n["gss_code"]: 0.0 for n in needs}
    for key, weight in w.items():
        if weight == 0:
            continue
        total = sum(n[key] or 0 for n in needs)
        if total <= 0:
            raise ModelError(f"no {INDICATORS[key].lower()} figures for this year")
        for n in needs:
            shares[n["gss_code"]] += (weight / total_weight) * (n[key] or 0) / total
    return shares


def round_to_total(amounts: dict[str, float], total: int) -> dict[str, int]:
    """Whole pounds that add up exactly to `total` (largest remainder)."""
    floors = {k: int(v // 1) for k, v in amounts.items()}
    short = total - sum(floors.values())
    for key in sorted(amounts, key=lambda k: (-(amounts[k] - floors[k]), k))[: max(short, 0)]:
        floors[key] += 1
    return floors


def model_allocations(needs: list[dict], fund_total: int, weights: Weights, floor: int = 0) -> dict[str, int]:
    """Share `fund_total` (whole pounds) between boroughs by weighted need, with a minimum of `floor` each.

    needs: one dict per borough with gss_code, population, total_recorded_crime, violence_against_the_person.
    Need share = sum over indicators of (weight / sum of weights) x (borough's value / London's value).
    Boroughs whose need share of the fund falls below the floor get the floor; the rest of the fund is shared
    again between the others in proportion to need, until no borough is below the floor.
    Returns gss_code -> modelled allocation in whole pounds; the values add up exactly to fund_total.
    """
    if not needs:
        raise ModelError("no boroughs to allocate to")
    if fund_total <= 0:
        raise ModelError("the fund total must be more than £0")
    if floor < 0:
        raise ModelError("the floor cannot be negative")
    if floor * len(needs) > fund_total:
        raise ModelError(
            f"a floor of £{floor:,} for {len(needs)} boroughs needs £{floor * len(needs):,}, more than the fund total")
    shares = need_shares(needs, weights)
    at_floor: set[str] = set()
    while True:
        free = [code for code in shares if code not in at_floor]
        remaining = fund_total - floor * len(at_floor)
        free_share = sum(shares[code] for code in free)
        if free_share > 0:
            amounts = {code: remaining * shares[code] / free_share for code in free}
        else:
            amounts = {code: remaining / len(free) for code in free}
        below = {code for code, amount in amounts.items() if amount < floor - 1e-9}
        if not below:
            break
        at_floor |= below
    amounts.update({code: float(floor) for code in at_floor})
    return round_to_total(amounts, fund_total)


def explore(needs: list[dict], actual: dict[str, float], fund_total: int, weights: Weights, floor: int = 0) -> dict:
    """The explorer's result: one row per borough (modelled, share, actual where published, difference) and
    inner/outer totals. Everything "modelled" is the output of model_allocations, not an actual allocation."""
    modelled = model_allocations(needs, fund_total, weights, floor)
    shares = need_shares(needs, weights)
    rows = []
    for n in needs:
        code = n["gss_code"]
        amount = modelled[code]
        real = actual.get(code)
        rows.append({
            "gss_code": code,
            "borough": n["borough"],
            "inner_outer": n["inner_outer"],
            "population": n["population"],
            "total_recorded_crime": n["total_recorded_crime"],
            "violence_against_the_person": n["violence_against_the_person"],
            "need_share_pct": round(100 * shares[code], 3),
            "modelled_gbp": amount,
            "modelled_pct_of_fund": round(100 * amount / fund_total, 3),
            "modelled_gbp_per_1000_residents": round(1000 * amount / n["population"], 2) if n["population"] else None,
            "at_floor": floor > 0 and amount == floor,
            "actual_gbp": real,
            "modelled_minus_actual_gbp": None if real is None else round(amount - real, 2),
        })
    rows.sort(key=lambda r: (-r["modelled_gbp"], r["borough"]))
    return {"rows": rows, "inner_outer": inner_outer_totals(rows, "modelled_gbp", "actual_gbp")}


def inner_outer_totals(rows: list[dict], amount_key: str, actual_key: str | None = None) -> list[dict]:
    """Totals for Inner and Outer London: amount, population, crime and their shares of London.
    The actual total is given only when every borough of the group has a published figure."""
    totals = []
    grand = {k: sum(r[k] or 0 for r in rows) for k in ("population", "total_recorded_crime", amount_key)}
    for group in ("Inner London", "Outer London"):
        members = [r for r in rows if r["inner_outer"] == group]
        entry = {"inner_outer": group, "boroughs": len(members)}
        for key in ("population", "total_recorded_crime", amount_key):
            value = sum(r[key] or 0 for r in members)
            entry[key] = value
            entry[f"pct_of_{key}"] = round(100 * value / grand[key], 2) if grand[key] else None
        if actual_key:
            known = [r[actual_key] for r in members if r[actual_key] is not None]
            entry["actual_boroughs_published"] = len(known)
            entry["actual_gbp"] = sum(known) if members and len(known) == len(members) else None
        totals.append(entry)
    return totals


def _dicts(cursor) -> list[dict]:
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def need_years(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT financial_year FROM lcpf_borough_need ORDER BY 1")]


def allocation_years(conn) -> list[dict]:
    return _dicts(conn.execute(
        "SELECT financial_year, MAX(boroughs_published) AS boroughs_published, SUM(allocation_gbp) AS published_gbp "
        "FROM lcpf_allocation_comparison GROUP BY financial_year ORDER BY financial_year"))


def load_needs(conn, year: str) -> list[dict]:
    return _dicts(conn.execute("SELECT * FROM lcpf_borough_need WHERE financial_year = ? ORDER BY borough", [year]))


def load_actuals(conn, year: str) -> dict[str, float]:
    return dict(conn.execute(
        "SELECT gss_code, allocation_gbp FROM lcpf_allocation_comparison WHERE financial_year = ?", [year]).fetchall())


def load_comparison(conn, year: str) -> list[dict]:
    return _dicts(conn.execute(
        "SELECT * FROM lcpf_allocation_comparison WHERE financial_year = ? ORDER BY borough", [year]))


def load_boroughs(conn) -> list[dict]:
    return _dicts(conn.execute("SELECT gss_code, name, inner_outer, geometry FROM boroughs ORDER BY gss_code"))


def load_trend(conn) -> list[dict]:
    return _dicts(conn.execute(
        "SELECT gss_code, borough, inner_outer, year, pct_of_london_crime FROM lcpf_crime_share_trend "
        "ORDER BY borough, year"))


def load_table(conn, name: str) -> list[dict]:
    return _dicts(conn.execute(f"SELECT * FROM [{name}] ORDER BY 1"))


def crime_share_change(trend: list[dict]) -> list[dict]:
    """Per borough: share of London crime in the first and last full year and the change in percentage points."""
    by_borough: dict[str, list[dict]] = {}
    for row in trend:
        by_borough.setdefault(row["gss_code"], []).append(row)
    out = []
    for rows in by_borough.values():
        rows.sort(key=lambda r: r["year"])
        first, last = rows[0], rows[-1]
        out.append({
            "gss_code": first["gss_code"], "borough": first["borough"], "inner_outer": first["inner_outer"],
            "first_year": first["year"], "first_pct": first["pct_of_london_crime"],
            "last_year": last["year"], "last_pct": last["pct_of_london_crime"],
            "change_pct_points": round(last["pct_of_london_crime"] - first["pct_of_london_crime"], 3),
        })
    out.sort(key=lambda r: -r["change_pct_points"])
    return out


MODELLED_LABEL = "modelled, not actual"


EXPLORER_FIELDS = [
    "gss_code", "borough", "inner_outer", "population", "total_recorded_crime", "violence_against_the_person",
    "need_share_pct", "modelled_gbp", "modelled_pct_of_fund", "modelled_gbp_per_1000_residents", "at_floor",
    "actual_gbp", "modelled_minus_actual_gbp",
]


def money(value) -> str:
    return "" if value is None else f"£{value:,.0f}"


def _borough_map(conn, values: dict[str, float | None], *, title, desc, ident, no_data_label, per="residents"):
    return svg.choropleth(
        load_boroughs(conn), values, title=title, desc=desc, ident=ident,
        value_label=lambda v: f"£{v:,.0f} per 1,000 {per}", no_data_label=no_data_label,
        excluded={CITY_OF_LONDON: "City of London: not in the fund, not policed by the MPS"},
    )


def overview_context(conn, year: str | None = None, highlight: str | None = None) -> dict:
    """Everything the LCPF overview page shows for one financial year with published allocations."""
    years = allocation_years(conn)
    if year is None and years:
        year = max(years, key=lambda y: (y["boroughs_published"], y["financial_year"]))["financial_year"]
    selected = next((y for y in years if y["financial_year"] == year), None)
    context = {"years": years, "year": year, "selected": selected, "city_explanation": CITY_EXPLANATION}
    needs = load_needs(conn, year) if selected else []
    published = {r["gss_code"]: r for r in load_comparison(conn, year)} if selected else {}
    complete = bool(needs) and all(n["gss_code"] in published for n in needs)
    rows = []
    for n in sorted(needs, key=lambda n: n["crime_rate_rank"]):
        p = published.get(n["gss_code"], {})
        rows.append({**n, **{k: p.get(k) for k in (
            "allocation_gbp", "direct_borough_award_gbp", "co_commissioned_share_gbp", "gbp_per_1000_residents",
            "gbp_per_1000_crimes", "pct_of_fund", "fund_minus_crime_pct_points")}})
    context.update(rows=rows, complete=complete, published_count=len(published), need_years=need_years(conn))
    if rows:
        context["inner_outer"] = inner_outer_totals(rows, "violence_against_the_person", "allocation_gbp")
        context["map"] = _borough_map(
            conn, {r["gss_code"]: r["gbp_per_1000_residents"] for r in rows},
            title=f"Map: published LCPF allocation per 1,000 residents, {year}",
            desc=f"Allocations are published for {len(published)} of 32 boroughs in {year}; the others are shown as "
                 "not published. The same figures are in the table below.",
            ident="lcpf-map", no_data_label="allocation not published")
        series = [("pct_of_fund", "Share of fund"), ("pct_of_london_crime", "Share of crime"),
                  ("pct_of_london_population", "Share of population")] if complete else [
            ("pct_of_london_crime", "Share of crime"), ("pct_of_london_population", "Share of population")]
        ordered = sorted(rows, key=lambda r: -(r["pct_of_fund"] if complete else r["pct_of_london_crime"]))
        context["shares_chart"] = svg.grouped_bars(
            [{"label": r["borough"], **r} for r in ordered], series, ident="lcpf-shares",
            title=f"Chart: each borough's share of {'the fund, ' if complete else ''}London's recorded crime and "
                  f"population, {year}",
            desc="Horizontal bars per borough, in percent of the 32-borough total. The same figures are in the table.")
    trend = load_trend(conn)
    if trend:
        by_borough: dict[str, dict] = {}
        for r in trend:
            entry = by_borough.setdefault(r["gss_code"], {"key": r["gss_code"], "label": r["borough"],
                                                          "group": r["inner_outer"], "points": []})
            entry["points"].append((r["year"], r["pct_of_london_crime"]))
        label = by_borough.get(highlight, {}).get("label")
        years_seen = sorted({r["year"] for r in trend})
        context["trend_chart"] = svg.line_chart(
            list(by_borough.values()), ident="lcpf-trend", highlight=highlight,
            title=f"Chart: each borough's share of London recorded crime, {years_seen[0]} to {years_seen[-1]}"
                  + (f", {label} highlighted" if label else ""),
            desc="One line per borough, blue for Inner London and red for Outer London. The first and last years "
                 "are in the table below the chart.")
        context["trend_change"] = crime_share_change(trend)
        context["trend_boroughs"] = sorted((v["label"], k) for k, v in by_borough.items())
        context["highlight"] = highlight
    context["consultation"] = load_table(conn, "lcpf_consultation")
    context["formula_options"] = load_table(conn, "lcpf_formula_options")
    return context


def _number(args, name: str, default: float, errors: list[str], label: str) -> float:
    raw = (args.get(name) or "").strip().replace(",", "").replace("£", "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        errors.append(f"{label}: {args.get(name)!r} is not a number")
        return default
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        errors.append(f"{label}: give a number of 0 or more, not {args.get(name)!r}")
        return default
    return value


def explorer_context(conn, args) -> dict:
    """Parse the explorer's query parameters (a mapping of strings), run the model and return the page context.
    context['errors'] lists problems with the input in plain English; nothing is modelled when there are any."""
    errors: list[str] = []
    years = _dicts(conn.execute(
        "SELECT financial_year, MIN(months_covered) AS months_covered FROM lcpf_borough_need GROUP BY 1 ORDER BY 1"))
    full_years = [y["financial_year"] for y in years if y["months_covered"] == 12]
    year = (args.get("year") or "").strip() or (full_years[-1] if full_years else None)
    if year not in [y["financial_year"] for y in years]:
        errors.append(f"Year: {year!r} is not a financial year with MPS crime data "
                      f"({years[0]['financial_year']} to {years[-1]['financial_year']})")
        year = full_years[-1]
    needs = load_needs(conn, year)
    actual = load_actuals(conn, year)
    all_published = len(actual) == len(needs) and bool(needs)
    direct_year, direct_total = latest_direct_funding(conn)
    if all_published or direct_total is None:
        default_total, default_hint = round(sum(actual.values())), "the published allocations for this year"
    else:
        default_total = direct_total
        default_hint = f"{direct_year} direct funding to the 32 boroughs, the newest one-year total published"
    weights = Weights(
        population=_number(args, "w_population", 1, errors, "Weight for population"),
        total_recorded_crime=_number(args, "w_crime", 1, errors, "Weight for total recorded crime"),
        violence_against_the_person=_number(args, "w_violence", 1, errors, "Weight for violence against the person"),
    )
    fund_total = round(_number(args, "fund_total", default_total, errors, "Fund total"))
    floor = round(_number(args, "floor", 0, errors, "Floor per borough"))
    parameters = {"year": year, "fund_total": fund_total, "w_population": weights.population,
                  "w_crime": weights.total_recorded_crime, "w_violence": weights.violence_against_the_person,
                  "floor": floor}
    context = {
        "label": MODELLED_LABEL, "parameters": parameters, "years": years, "errors": errors,
        "default_fund_total": default_total, "default_fund_hint": default_hint,
        "all_published": all_published, "actual_count": len(actual),
        "months_covered": next(y["months_covered"] for y in years if y["financial_year"] == year),
        "city_explanation": CITY_EXPLANATION, "formula_options": load_table(conn, "lcpf_formula_options"),
    }
    if not errors:
        try:
            result = explore(needs, actual, fund_total, weights, floor)
        except ModelError as exc:
            errors.append(str(exc)[0].upper() + str(exc)[1:])
        else:
            context.update(result)
            context["map"] = _borough_map(
                conn, {r["gss_code"]: r["modelled_gbp_per_1000_residents"] for r in result["rows"]},
                title=f"Map: modelled allocation per 1,000 residents, {year} ({MODELLED_LABEL})",
                desc="Shading by modelled pounds per 1,000 residents; the figures are in the table below.",
                ident="explorer-map", no_data_label="no figure")
            shares = {n["gss_code"]: n for n in needs}
            context["chart"] = svg.grouped_bars(
                [{"label": r["borough"], "modelled": r["modelled_pct_of_fund"],
                  "crime": shares[r["gss_code"]]["pct_of_london_crime"],
                  "population": shares[r["gss_code"]]["pct_of_london_population"]} for r in result["rows"]],
                [("modelled", "Modelled share of fund"), ("crime", "Share of crime"),
                 ("population", "Share of population")],
                ident="explorer-shares", title=f"Chart: modelled share of the fund against shares of London's crime "
                                               f"and population, {year} ({MODELLED_LABEL})",
                desc="Horizontal bars per borough in percent; the figures are in the table below.")
    return context


def explorer_csv(context: dict) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["basis", "financial_year", *EXPLORER_FIELDS])
    for row in context.get("rows", []):
        writer.writerow([MODELLED_LABEL, context["parameters"]["year"],
                         *("" if row[k] is None else row[k] for k in EXPLORER_FIELDS)])
    return out.getvalue()


