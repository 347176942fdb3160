"""Each funding opportunity's row page links to the map of its eligible area (plugins/opportunity_row_links.py)."""

from __future__ import annotations

import sqlite3

import pytest
from datasette.utils import tilde_encode
from lxml import html

from scripts.site import BUILD


def references(database: str, limit: int = 10) -> list[str]:
    db = sqlite3.connect(f"file:{BUILD / f'{database}.db'}?mode=ro", uri=True)
    return [r for (r,) in db.execute("select reference from funding_opportunities order by reference limit ?", [limit])]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database", ["commissioning", "synthetic_demo"])
async def test_row_page_links_to_the_eligible_area_map(datasette, database):
    found = references(database)
    assert found
    for reference in found:
        response = await datasette.client.get(f"/{database}/funding_opportunities/{tilde_encode(reference)}")
        assert response.status_code == 200, reference
        doc = html.fromstring(response.text)
        maps = [a.get("href") for a in doc.xpath("//ul[@class='opportunity-links']//a")
                if "/opportunity_eligible_area_map?" in a.get("href")]
        assert len(maps) == 1, reference
        target = await datasette.client.get(maps[0])
        assert target.status_code == 200
        # The link opens the map of this opportunity, not an empty query.
        shown = await datasette.client.get(maps[0].replace("_map?", "_map.json?") + "&_shape=array")
        assert [row["reference"] for row in shown.json()] == [reference]
        assert "leaflet" in target.text.lower()
