"""The /review-due page (issue 14): data from plugins/view_models/review.py; the template only displays it."""

from datasette import hookimpl

from plugins.view_models import review


@hookimpl
def extra_template_vars(template, request, datasette):
    if template != "pages/review-due.html" or request is None:
        return {}

    async def inner():
        usable = [name for name in datasette.databases if name != "_internal"
                  and "records_due_for_review" in await datasette.get_database(name).view_names()]
        if not usable:
            return {"review": None}
        chosen = request.args.get("db")
        db_name = chosen if chosen in usable else ("commissioning" if "commissioning" in usable else usable[0])
        lists = await datasette.get_database(db_name).execute_fn(review.review_lists)
        return {"review": {"db": db_name, "databases": usable, "lists": lists,
                           "synthetic": db_name != "commissioning"}}

    return inner
