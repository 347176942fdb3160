"""A javascript:, vbscript: or data: address written straight into a database is never a link (issue 15,
plugins/safe_links.py): the custom row pages and pages write addresses from the data into href, so a database changed
by hand must still give plain text there; http(s) addresses stay links."""

from __future__ import annotations

import re
import shutil
import sqlite3
import urllib.parse

import pytest
from datasette.utils import tilde_encode

from plugins.safe_links import is_unsafe, strip_unsafe_links
from scripts.site import BUILD, make_datasette

UNSAFE = ["javascript:window.__x=1", " JaVaScRiPt:window.__x=2", "java\tscript:window.__x=3",
          "data:text/html,<script>window.__x=4</script>", "vbscript:msgbox(1)", "\x01javascript:x"]
HREF = re.compile(r"""\s(?:href|src|action|formaction)\s*=\s*["']([^"']*)["']""", re.I)


@pytest.mark.parametrize("address", UNSAFE)
def test_unsafe_addresses_are_recognised(address):
    assert is_unsafe(address)
    escaped = address.replace("&", "&amp;").replace("<", "&lt;")
    page, removed = strip_unsafe_links(f'<p><a href="{escaped}">label</a> <a href="https://x.example/">ok</a></p>')
    assert removed == 1 and page == '<p><a >label</a> <a href="https://x.example/">ok</a></p>'


@pytest.mark.parametrize("address", ["https://example.org/a?b=c", "http://x", "/commissioning", "#main", "?q=1",
                                     "mailto:a@example.org", "tel:+4420", "relative/page", "https://x/javascript:"])
def test_other_addresses_are_kept(address):
    assert not is_unsafe(address)


def test_entity_encoded_scheme_is_recognised():
    assert is_unsafe("&#106;avascript:alert(1)") and is_unsafe("javascript&colon;alert(1)")


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """A copy of the real database with every address column set to an unsafe address."""
    folder = tmp_path_factory.mktemp("tampered")
    path = folder / "commissioning.db"
    shutil.copyfile(BUILD / "commissioning.db", path)
    db = sqlite3.connect(path)
    changed = 0
    for (table,) in db.execute("select name from sqlite_master where type = 'table' and name not like '%fts%'"):
        columns = [r[1] for r in db.execute(f"pragma table_info([{table}])") if "url" in r[1] or r[1] == "website"]
        for i, column in enumerate(columns):
            changed += db.execute(f"update [{table}] set [{column}] = ?", [UNSAFE[i % len(UNSAFE)]]).rowcount
    db.commit()
    pages = ["/commissioning/services", "/commissioning/organizations", "/commissioning/funding_decisions",
             "/opportunities", "/boroughs/E09000008", "/borough-feeds", "/commissioning/funding_opportunities"]
    for table in ("services", "organizations", "funding_decisions", "funding_opportunities", "vru_programmes"):
        key = [r[1] for r in db.execute(f"pragma table_info([{table}])") if r[5]][0]
        (value,) = db.execute(f"select [{key}] from [{table}] order by 1 limit 1").fetchone()
        pages.append(f"/commissioning/{table}/{tilde_encode(str(value))}")
    (programme,) = db.execute("select programme from vru_programmes order by 1 limit 1").fetchone()
    pages.append("/commissioning/-/vru-programme?programme=" + urllib.parse.quote(programme))
    db.close()
    assert changed > 0
    return path, pages


@pytest.mark.asyncio(loop_scope="session")
async def test_stored_unsafe_addresses_render_as_text(tampered):
    path, pages = tampered
    ds = make_datasette([path])
    shown = 0
    for page in pages:
        response = await ds.client.get(page)
        assert response.status_code == 200, page
        for address in HREF.findall(response.text):
            assert not is_unsafe(address), (page, address)
        shown += "javascript:window.__x=1" in response.text
    assert shown >= 3  # the addresses are still on the pages, as text
