"""The pages of /sitemap.xml (issue 16), served by datasette-sitemap: every service, funding opportunity, borough and
VRU programme page of the real database, its tables and views, the custom pages and the public dashboards. The list
comes from plugins/view_models/findable.py."""

from datasette import hookimpl

from plugins.view_models import findable


@hookimpl
def sitemap_extra_paths(datasette):
    async def inner():
        return await findable.sitemap_paths(datasette, await findable.site_facts(datasette))

    return inner
