"""Text summaries under dashboard charts (issue 6): a chart in metadata.yml's datasette-dashboards block may give
`summary_sql` (one row, one `summary` column); templates/dashboard_view.html shows its result, computed here with the
dashboard's filter values, so every chart has a sentence that states its content or its honest empty state, and links
to the `table` and `canned_query` it names."""

from datasette import hookimpl

from plugins.view_models.dashboards import chart_links, chart_summary


@hookimpl
def extra_template_vars(template, datasette):
    if template not in ("dashboard_view.html", "dashboard_chart.html"):
        return {}

    async def summary(chart, query_parameters):
        return await chart_summary(datasette, chart, query_parameters)

    return {"chart_summary": summary, "chart_links": chart_links}
