"""Patch 1 of plugins/datasette_shims.py: the remembered `allow` blocks of each table are exactly Datasette's own
answer, are recomputed when the metadata object is replaced, and still deny access where the metadata says so
(issue 9; the patch moved into the version-checked shims module in issue 16)."""

from __future__ import annotations

import pytest
from datasette.app import Datasette

from scripts.site import BUILD, ROOT, make_datasette


@pytest.mark.asyncio(loop_scope="session")
async def test_same_answer_as_datasette_for_every_table():
    ds = make_datasette()
    await ds.invoke_startup()
    original = Datasette._table_permission_allows.__wrapped__
    names = ["services", "measure_results", "boroughs", "no_such_table"]
    for database in ("commissioning", "synthetic_demo", "_internal"):
        for table in names:
            assert ds._table_permission_allows(database, table) == original(ds, database, table)
            assert ds._table_permission_allows(database, table) == original(ds, database, table)  # remembered


@pytest.mark.asyncio(loop_scope="session")
async def test_allow_blocks_still_deny_and_follow_replaced_metadata():
    ds = Datasette(immutables=[str(BUILD / "synthetic_demo.db")], plugins_dir=str(ROOT / "plugins"),
                   metadata={"databases": {"synthetic_demo": {"tables": {"services": {"allow": {"id": "editor"}}}}}})
    assert (await ds.client.get("/synthetic_demo/services.json")).status_code == 403
    assert (await ds.client.get("/synthetic_demo/boroughs.json")).status_code == 200
    assert Datasette._table_permission_allows.__wrapped__  # the shim is in place
    ds._metadata_local = {}  # a new metadata object: the remembered answers are dropped
    assert (await ds.client.get("/synthetic_demo/services.json")).status_code == 200
