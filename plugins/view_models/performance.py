"""The performance pages: /performance (periods, charts, coverage gaps, the CSV templates MOPAC fills),
/performance/committee-pack and /performance/service. Reads only the built database: the RAG rule's wording comes
from its `rag_rules` table, the template columns from the database's own columns and the served metadata."""

from __future__ import annotations

from scripts.common.performance import NOT_MEASURED, duration_months, parse_period


def _rows(conn, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    keys = [d[0] for d in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


TEMPLATE_TABLES = ("measures", "measure_results")


def template_columns(conn, descriptions: dict[str, dict[str, str]]) -> dict[str, list[dict]]:
    """The CSV template columns (name, required, description) of measures and measure_results, for the docs page:
    names and NOT NULL from the built tables, descriptions from the served metadata (which the build takes from
    data/schemas)."""
    out = {}
    for table in TEMPLATE_TABLES:
        columns = conn.execute(f"PRAGMA table_info([{table}])").fetchall()
        out[table] = [
            {"name": name, "required": bool(notnull), "description": descriptions.get(table, {}).get(name, "")}
            for _, name, _, notnull, _, _ in columns
        ]
    return out


def periods_summary(conn) -> list[dict]:
    return _rows(conn, "SELECT * FROM performance_periods ORDER BY period_start")


def pack_for_period(conn, period: str | None, commissioner: str | None = None) -> dict:
    """The Committee pack for one period (the latest when none is asked for), optionally for one commissioner; an
    honest empty pack for a period with nothing published; an error message (and the latest period) when the label
    is not a period. Counts are worked out from the rows shown."""
    periods = periods_summary(conn)
    known = {p["period"]: p for p in periods}
    period_error = None
    if period:
        try:
            parse_period(period)
        except ValueError as exc:
            period_error = str(exc)
            period = None
    if not period:
        period = periods[-1]["period"] if periods else None
    commissioners = [r[0] for r in conn.execute(
        "SELECT DISTINCT commissioner FROM committee_pack WHERE commissioner IS NOT NULL ORDER BY 1")]
    if commissioner not in commissioners:
        commissioner = None
    sql = "SELECT * FROM committee_pack WHERE period = ?" + (" AND commissioner = ?" if commissioner else "")
    params = [period, commissioner] if commissioner else [period]
    rows = _rows(conn, sql + " ORDER BY rowid", params) if period in known else []
    for row in rows:
        row["annual_display"] = format_money(row["annual_value_gbp"])
        row["total_display"] = format_money(row["total_value_gbp"])
        row["duration_display"] = format_duration(row["duration_months"])
        row["target_display"] = format_value(row["target"], row["unit"])
        row["actual_display"] = format_value(row["actual"], row["unit"])
    return {
        "period": period,
        "commissioner": commissioner,
        "commissioners": commissioners,
        "summary": pack_counts(rows),
        "rows": rows,
        "period_error": period_error,
        "has_ratings": any(r["rag"] != NOT_MEASURED for r in rows),
    }


def pack_counts(rows: list[dict]) -> dict:
    services = {r["service_id"] for r in rows}
    rated = {r["service_id"] for r in rows if r["rag"] != NOT_MEASURED}
    return {
        "green": sum(1 for r in rows if r["rag"] == "Green"),
        "amber": sum(1 for r in rows if r["rag"] == "Amber"),
        "red": sum(1 for r in rows if r["rag"] == "Red"),
        "overridden": sum(1 for r in rows if r["rag_overridden"]),
        "measures_not_rated": sum(1 for r in rows if r["measure_id"] and r["rag"] == NOT_MEASURED),
        "services_in_pack": len(services),
        "services_rated": len(rated),
        "services_not_measured": len(services - rated),
    }


def format_money(value) -> str:
    return "" if value is None else f"£{value:,.0f}"


def format_duration(months) -> str:
    if months is None:
        return ""
    return "1 month" if months == 1 else f"{months} months"


def format_value(value, unit: str | None = None) -> str:
    if value is None:
        return ""
    number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{number}%" if unit == "percent" else number


def build_info(conn) -> dict:
    return {row[0]: row[1] for row in conn.execute("SELECT key, value FROM build_info")}


def rag_rule(conn) -> dict:
    """The RAG rule the build applied (version and wording), as recorded in the database."""
    found = _rows(conn, "SELECT rule_version, rule FROM rag_rules ORDER BY rule_version DESC LIMIT 1")
    return found[0] if found else {"rule_version": None, "rule": None}


def page_context(
    conn, page: str, period: str | None = None, service_id: str | None = None, commissioner: str | None = None,
    descriptions: dict[str, dict[str, str]] | None = None,
) -> dict:
    """Everything one performance page shows. page is performance, performance/committee-pack or
    performance/service."""
    ctx = {
        "page": page,
        "synthetic": build_info(conn).get("synthetic") == "true",
        "rule_version": rag_rule(conn)["rule_version"],
        "rule_text": rag_rule(conn)["rule"],
        "periods": periods_summary(conn),
    }
    ctx["latest"] = ctx["periods"][-1] if ctx["periods"] else None
    if page == "performance":
        ctx["gaps"] = coverage_gaps(conn)
        ctx["templates"] = template_columns(conn, descriptions or {})
        ctx["chart_data"] = chart_data(ctx["periods"])
    elif page == "performance/committee-pack":
        ctx.update(pack_for_period(conn, period, commissioner))
    elif page == "performance/service":
        ctx["history"] = service_history(conn, service_id) if service_id else None
        ctx["service_id"] = service_id
        ctx["services"] = _rows(conn, """
            SELECT s.service_id, s.name, count(m.measure_id) AS measures FROM services s
            LEFT JOIN measures m ON m.service_id = s.service_id GROUP BY s.service_id ORDER BY s.name""")
    return ctx


def chart_data(periods: list[dict]) -> dict:
    """Long-form rows for the two Vega-Lite charts (RAG per period; change against the previous period)."""
    rag = [
        {"period": p["period"], "rating": label, "count": p[column], "order": i}
        for p in periods
        for i, (label, column) in enumerate([("Red", "red"), ("Amber", "amber"), ("Green", "green")])
    ]
    travel = [
        {"period": p["period"], "direction": label, "count": p[label]}
        for p in periods[1:]
        for label in ("better", "same", "worse")
    ]
    return {"rag": rag, "travel": travel}


def service_history(conn, service_id: str) -> dict | None:
    service = _rows(conn, """
        SELECT s.service_id, s.name, s.commissioner, s.start_date, s.end_date, s.annual_value_gbp, s.total_value_gbp,
          o.name AS provider
        FROM services s LEFT JOIN organizations o ON o.organization_id = s.organization_id WHERE s.service_id = ?""",
        [service_id])
    if not service:
        return None
    service[0]["annual_display"] = format_money(service[0]["annual_value_gbp"])
    service[0]["total_display"] = format_money(service[0]["total_value_gbp"])
    service[0]["duration_display"] = format_duration(duration_months(service[0]["start_date"], service[0]["end_date"]))
    measures = _rows(conn, "SELECT * FROM measures WHERE service_id = ? ORDER BY name", [service_id])
    for m in measures:
        sql = "SELECT * FROM ratings WHERE measure_id = ? ORDER BY period_start"
        m["history"] = _rows(conn, sql, [m["measure_id"]])
        for r in m["history"]:
            r["target_display"] = format_value(r["target"], m["unit"])
            r["actual_display"] = format_value(r["actual"], m["unit"])
            points = " percentage points" if m["unit"] == "percent" else ""
            r["tolerance_display"] = format_value(r["tolerance"]) + points
    return {"service": service[0], "measures": measures}


def coverage_gaps(conn) -> list[dict]:
    return _rows(conn, "SELECT * FROM performance_coverage WHERE gap IS NOT NULL ORDER BY service_name")


