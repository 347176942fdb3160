"""The rules of /robots.txt (issue 16): public pages open to search engines; ad-hoc SQL, facet, sort and filter
permutations, export formats and the synthetic demo closed. The rules come from plugins/view_models/findable.py;
datasette-block-robots serves the file (metadata.yml gives its `User-agent: *` line) and datasette-sitemap adds the
Sitemap line."""

from datasette import hookimpl

from plugins.view_models import findable


@hookimpl
def block_robots_extra_lines(datasette):
    async def inner():
        return findable.robots_rules(await findable.site_facts(datasette))

    return inner
