"""The services table's facets, counted from the build's precomputed coverage table where they can be (issue 9).

metadata.yml configures the services facets as `precounted: <column>` (service_area, commissioner, status, coverage)
and `boroughs: boroughs_covered`. They show, link and answer in JSON exactly like Datasette's column and array facets
(`type` "column" and "array"), but Datasette counts each facet by scanning the whole table on every view: at 100,000
services the four column facets took about 35 ms a page, and the array facet expands every service's JSON list and
de-duplicates whole rows, which took over a second and was cut off at facet_time_limit_ms on every view, so it never
appeared.

When the page has no filter other than plain equality on service_area, commissioner or status (the unfiltered page
and the links of the page's own coverage map), the counts are sums over `service_coverage_counts` (built by
scripts/publication/domains/services.py: one row per combination of those three columns counting the services, and
one per borough counting the services that cover it, London-wide ones in every borough) — a few hundred rows instead
of the table. For the column facets only the SQL is swapped: Datasette's own ColumnFacet code still builds the
values, labels and links. Any other filter or search falls back to Datasette's own queries, under the facet time
limit as before. tests/test_serving_speed_facets.py checks both give the same facets.
"""

from __future__ import annotations

import re

from datasette import hookimpl
from datasette.facets import ArrayFacet, ColumnFacet
from datasette.utils import path_with_added_args, path_with_removed_args

from plugins.view_models import services
from scripts.common.services import FILTER_COLUMNS

TABLE, BOROUGH_COLUMN = "services", "boroughs_covered"
COUNTS_TABLE = "service_coverage_counts"
# Query-string arguments that do not change which rows the facets count.
NEUTRAL_ARGUMENTS = {
    "_size", "_sort", "_sort_desc", "_next", "_facet", "_facet_size", "_facet_array", "_facet_date",
    "_facet_boroughs", "_facet_precounted", "_nocount", "_nofacet", "_labels", "_nolabels", "_shape", "_col", "_nocol",
    "_trace", "_json", "_nl", "_extra", "_dl", "_stream", "_context",
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
FACET_SQL_COLUMN = re.compile(r"^\s*select\s+\[?(\w+)\]?\s+as value, count\(\*\) as count from \(", re.IGNORECASE)


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


class _CountingDatasette:
    """Datasette as ColumnFacet sees it, except that its facet query is answered from the precomputed counts."""

    def __init__(self, datasette, filters: dict):
        self._datasette = datasette
        self._params = {c: filters.get(c, "") for c in FILTER_COLUMNS}

    def __getattr__(self, name):
        return getattr(self._datasette, name)

    async def execute(self, database, sql, params=None, **kwargs):
        found = FACET_SQL_COLUMN.match(sql)
        column = found.group(1) if found else None
        if column not in COUNT_SQL:
            return await self._datasette.execute(database, sql, params, **kwargs)
        limit = int(re.search(r"limit (\d+)\s*$", sql.strip(), re.IGNORECASE).group(1))
        return await self._datasette.execute(database, COUNT_SQL[column], {**self._params, "limit": limit}, **kwargs)


class PrecountedFacet(ColumnFacet):
    type = "precounted"

    async def suggest(self):
        return []

    async def facet_results(self):
        filters = await counts_available(self)
        if filters is not None:
            self.ds = _CountingDatasette(self.ds, filters)
        try:
            results, timed_out = await super().facet_results()
        finally:
            self.ds = getattr(self.ds, "_datasette", self.ds)
        for result in results:
            result["type"] = "column"
            result["toggle_url"] = self.ds.urls.path(path_with_removed_args(
                self.request, {"_facet_precounted": result["name"]}))
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
            results, timed_out = await super().facet_results()
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
