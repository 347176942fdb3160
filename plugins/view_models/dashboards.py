"""Helpers for datasette-dashboards charts (issue 6): the text summary of a chart and the links to its table and SQL."""

from __future__ import annotations

import re
from urllib.parse import urlencode

PARAM = re.compile(r"(?<!:):([a-zA-Z_][a-zA-Z0-9_]*)")


def named_parameters(sql: str) -> list[str]:
    """The :name parameters of a query (as Datasette finds them), in order, without duplicates."""
    return list(dict.fromkeys(PARAM.findall(re.sub(r"'[^']*'", "''", sql))))


def summary_params(sql: str, query_parameters: dict) -> dict:
    """Every parameter the SQL names: the dashboard filter's value, or '' (which the SQL reads as 'all')."""
    return {name: str(query_parameters.get(name) or "") for name in named_parameters(sql)}


async def chart_summary(datasette, chart: dict, query_parameters: dict) -> str | None:
    sql = chart.get("summary_sql")
    if not sql or not chart.get("db"):
        return None
    try:
        result = await datasette.execute(chart["db"], sql, summary_params(sql, query_parameters))
    except Exception as exc:  # a summary must never break the dashboard; say what happened instead
        return f"Summary unavailable: {exc}"
    row = result.first()
    return row["summary"] if row is not None else None


def chart_links(chart: dict, query_parameters: dict) -> dict:
    """Addresses of the table and of the canned query behind a chart, with the dashboard's filters applied."""
    db = chart.get("db")
    links = {}
    if db and chart.get("table"):
        links["table"] = f"/{db}/{chart['table']}"
    if db and chart.get("canned_query"):
        sql = chart.get("query") or ""
        wanted = {k: query_parameters.get(k) for k in named_parameters(sql) if query_parameters.get(k)}
        links["sql"] = f"/{db}/{chart['canned_query']}" + (f"?{urlencode(wanted)}" if wanted else "")
    return links
