"""The /review-due page (issue 14): data from plugins/view_models/review.py; the template only displays it."""

from datasette import hookimpl

from plugins.view_models import review
from plugins.view_models.databases import REAL, chosen_database


@hookimpl
def extra_template_vars(template, request, datasette):
    if template != "pages/review-due.html" or request is None:
        return {}

    async def inner():
        db_name, usable = await chosen_database(datasette, request, "records_due_for_review", views=True)
        if db_name is None:
            return {"review": None}
        lists = await datasette.get_database(db_name).execute_fn(review.review_lists)
        return {"review": {"db": db_name, "databases": usable, "lists": lists, "synthetic": db_name != REAL}}

    return inner
