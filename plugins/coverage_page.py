"""The /coverage page (issue 13): data from plugins/view_models/coverage.py; the template only displays it."""

from datasette import hookimpl

from plugins.view_models import coverage
from plugins.view_models.databases import REAL, chosen_database


@hookimpl
def extra_template_vars(template, request, datasette):
    if template != "pages/coverage.html" or request is None:
        return {}

    async def inner():
        db_name, usable = await chosen_database(datasette, request, "publication_coverage")
        if db_name is None:
            return {"coverage": None}
        sections = await datasette.get_database(db_name).execute_fn(coverage.coverage_sections)
        return {"coverage": {"db": db_name, "databases": usable, "sections": sections, "synthetic": db_name != REAL}}

    return inner
