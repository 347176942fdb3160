"""The services table's facets, counted from the build's precomputed coverage table where they can be (issues 9, 16).

metadata.yml configures the services facets as `precounted: <column>` (service_area, commissioner, status, coverage)
and `boroughs: boroughs_covered`. They show, link and answer in JSON exactly like Datasette's column and array facets
(`type` "column" and "array"), but Datasette counts each facet by scanning the whole table on every view: at 100,000
services the four column facets took about 35 ms a page, and the array facet expands every service's JSON list and
de-duplicates whole rows, which took over a second and was cut off at facet_time_limit_ms on every view.

When the page has no filter other than plain equality on service_area, commissioner or status (the unfiltered page
and the links of the page's own coverage map), the counts are sums over `service_coverage_counts` (built by the
services domain: one row per combination of those three columns counting the services, and one per borough counting
the services that cover it, London-wide ones in every borough) — a few hundred rows instead of the table. These
classes run that SQL themselves and build Datasette's own facet result shape (value, label, count, toggle_url,
selected; labels through Datasette's foreign-key expansion, as ColumnFacet does), through the documented
`register_facet_classes` hook. Any other filter or search is counted by Datasette's own ColumnFacet and ArrayFacet
code (the classes inherit it), under the facet time limit as before; a facet that hits the limit keeps the page out
of HTTP caches (plugins/http_caching.py). tests/test_serving_speed_facets.py checks both give the same facets.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import ArrayFacet, ColumnFacet
from datasette.utils import path_with_added_args, path_with_removed_args

from plugins.http_caching import do_not_store
from plugins.view_models import services
from scripts.common.services import FILTER_COLUMNS

TABLE, BOROUGH_COLUMN = "services", "boroughs_covered"
COUNTS_TABLE = "service_coverage_counts"
# Query-string arguments that do not change which rows the facets count.
NEUTRAL_ARGUMENTS = {
    "_size", "_sort", "_sort_desc", "_next", "_facet", "_facet_size", "_facet_array", "_facet_date",
    "_facet_boroughs", "_facet_precounted", "_nocount", "_nofacet", "_labels", "_nolabels", "_shape", "_col", "_nocol",
    "_trace", "_json", "_nl", "_extra", "_dl", "_stream", "_context", "_build",
}
WHERE = "c.gss_code IS NULL" + "".join(f" AND (:{c} = '' OR c.{c} = :{c})" for c in FILTER_COLUMNS)
COUNT_SQL = {
    **{column: f"SELECT c.{column} AS value, SUM(c.services_count) AS count FROM {COUNTS_TABLE} c WHERE {WHERE} "
               f"AND c.{column} IS NOT NULL GROUP BY c.{column} HAVING count > 0 "
               "ORDER BY count DESC, value LIMIT :limit"
       for column in FILTER_COLUMNS},
    "coverage": f"SELECT value, SUM(n) AS count FROM ("
                f"SELECT 'london-wide' AS value, c.london_wide_services_count AS n FROM {COUNTS_TABLE} c WHERE {WHERE} "
                f"UNION ALL SELECT 'boroughs', c.borough_specific_services_count FROM {COUNTS_TABLE} c WHERE {WHERE}"
                f") GROUP BY value HAVING count > 0 ORDER BY count DESC, value LIMIT :limit",
}


def precomputed_filters(args) -> dict | None:
    """The equality filters the precomputed counts can answer for, or None when the page has any other filter."""
    filters = {}
    for name in args.keys():
        values = args.getlist(name)
        if name in NEUTRAL_ARGUMENTS:
            continue
        if name in FILTER_COLUMNS and len(values) == 1 and values[0]:
            filters[name] = values[0]
            continue
        return None
    return filters


async def counts_available(facet) -> dict | None:
    """The filters to count with, when this facet is on the services table, the page's filters allow it and the
    database has the precomputed table; otherwise None."""
    if facet.table != TABLE:
        return None
    filters = precomputed_filters(facet.request.args)
    if filters is None or COUNTS_TABLE not in await facet.ds.get_database(facet.database).table_names():
        return None
    return filters


def toggle_path(request, column: str, value) -> str:
    """The path that selects a facet value, or removes it when selected (as Datasette's ColumnFacet builds it)."""
    column_qs = f"{column}__exact" if column.startswith("_") else column
    if (column_qs, str(value)) in parse_qsl(request.query_string, keep_blank_values=True):
        return path_with_removed_args(request, {column_qs: str(value)})
    return path_with_added_args(request, {column_qs: value})


class PrecountedFacet(ColumnFacet):
    type = "precounted"

    async def suggest(self):
        return []

    async def facet_results(self):
        configs = self.get_configs()
        columns = [c["config"].get("column") or c["config"]["simple"] for c in configs]
        filters = await counts_available(self) if all(c in COUNT_SQL for c in columns) else None
        if filters is None:
            results, timed_out = await super().facet_results()  # Datasette's own queries over the table
        else:
            results, timed_out = await self.precounted_results(configs, filters)
        if timed_out:
            do_not_store(self.request)
        for result in results:
            result["type"] = "column"
            result["toggle_url"] = self.ds.urls.path(path_with_removed_args(
                self.request, {"_facet_precounted": result["name"]}))
        return results, timed_out

    async def precounted_results(self, configs, filters: dict) -> tuple[list[dict], list[str]]:
        facet_size = self.get_facet_size()
        params = {**{c: filters.get(c, "") for c in FILTER_COLUMNS}, "limit": facet_size + 1}
        pairs = set(parse_qsl(self.request.query_string, keep_blank_values=True))
        results, timed_out = [], []
        for config in configs:
            column = config["config"].get("column") or config["config"]["simple"]
            try:
                rows = (await self.ds.execute(self.database, COUNT_SQL[column], params, truncate=False,
                                              custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
            except QueryInterrupted:
                timed_out.append(column)
                continue
            shown = rows[:facet_size]
            labels = await self.ds.expand_foreign_keys(self.database, self.table, column,
                                                       [row["value"] for row in shown])
            results.append({
                "name": column,
                "type": "column",
                "hideable": config["source"] != "metadata",
                "results": [{
                    "value": row["value"],
                    "label": labels.get((column, row["value"]), row["value"]),
                    "count": row["count"],
                    "toggle_url": self.ds.absolute_url(self.request,
                                                       self.ds.urls.path(toggle_path(self.request, column,
                                                                                     row["value"]))),
                    "selected": (column, str(row["value"])) in pairs,
                } for row in shown],
                "truncated": len(rows) > facet_size,
            })
        return results, timed_out


class BoroughsFacet(ArrayFacet):
    type = "boroughs"

    async def suggest(self):
        return []

    async def facet_results(self):
        configs = self.get_configs()
        column = (configs[0]["config"].get("column") or configs[0]["config"]["simple"]) if configs else None
        filters = await counts_available(self) if len(configs) == 1 and column == BOROUGH_COLUMN else None
        if filters is None:
            results, timed_out = await super().facet_results()  # Datasette's own query over the table
            if timed_out:
                do_not_store(self.request)
            for result in results:
                result["type"] = "array"
            return results, timed_out
        facet_size = self.get_facet_size()
        db = self.ds.get_database(self.database)
        rows = await db.execute_fn(lambda conn: services.coverage_rows(conn, filters))
        counted = sorted(((r["borough"], r["services_count"]) for r in rows if r["services_count"]),
                         key=lambda pair: (-pair[1], pair[0]))
        values = [{
            "value": name,
            "label": name,
            "count": count,
            "toggle_url": self.ds.absolute_url(
                self.request, path_with_added_args(self.request, {f"{BOROUGH_COLUMN}__arraycontains": name})),
            "selected": False,  # a selected borough is an arraycontains filter, answered by the fallback
        } for name, count in counted[:facet_size]]
        return [{
            "name": BOROUGH_COLUMN,
            "type": "array",
            "results": values,
            "hideable": configs[0]["source"] != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_boroughs": BOROUGH_COLUMN})),
            "truncated": len(counted) > facet_size,
        }], []


@hookimpl
def register_facet_classes():
    return [PrecountedFacet, BoroughsFacet]
