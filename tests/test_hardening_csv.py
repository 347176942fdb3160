"""Every CSV the site sends is safe to open in a spreadsheet (issue 15, plugins/csv_neutralise.py): a text cell that
starts with =, +, -, @, a tab or a carriage return gets a leading single quote (OWASP's CSV injection guidance);
plain numbers and every other cell are unchanged."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from plugins.csv_neutralise import CsvNeutraliser, neutralise_cell, neutralise_record
from scripts.site import make_datasette

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+2", "-1+2", "@SUM(A1)", "\tTAB", "\rCR",
            "=cmd|' /C calc'!A0", "-", "+", "=", "@"]
UNCHANGED = ["-5", "+3.2", "-1.5e3", "1e10", ".5", "-0.25", "42", "", "plain text", "a=b", "x+1", " =leading space",
             "'=already quoted", "2026-11-25", "E09000008"]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_get_a_leading_quote(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", UNCHANGED)
def test_numbers_and_other_cells_are_unchanged(value):
    assert neutralise_cell(value) == value


def sample_csv() -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["id", "=name", "note"])
    for i in range(200):
        writer.writerow([i, FORMULAS[i % len(FORMULAS)], f"line one\nline two, \"quoted\" {i}"])
        writer.writerow([-i, UNCHANGED[i % len(UNCHANGED)], "é ü – ✓ " * (i % 5)])
    return out.getvalue()


def expected_rows(text: str) -> list[list[str]]:
    return [[neutralise_cell(cell) for cell in row] for row in csv.reader(io.StringIO(text, newline=""))]


def test_stream_rewritten_in_any_chunking_equals_the_whole():
    text = sample_csv()
    data = text.encode("utf-8")
    whole = CsvNeutraliser().feed(data, final=True)
    assert list(csv.reader(io.StringIO(whole.decode("utf-8"), newline=""))) == expected_rows(text)
    for size in (1, 2, 3, 7, 64, 1000):
        rewriter = CsvNeutraliser()
        chunks = [data[i:i + size] for i in range(0, len(data), size)]
        out = b"".join(rewriter.feed(chunk) for chunk in chunks) + rewriter.feed(b"", final=True)
        assert out == whole, size


def test_records_without_formulas_pass_byte_for_byte():
    record = '12,-5,"a, b",plain\r\n'
    assert neutralise_record(record) is record
    assert neutralise_record('1,"=x, y"\r\n') == '1,"\'=x, y"\r\n'


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.asyncio(loop_scope="session")
async def test_ad_hoc_sql_csv_download_is_neutralised(datasette):
    sql = ("select '=HYPERLINK(\"http://evil.example\",\"x\")' as \"=link\", '-5' as n, -7 as i, '+44 20 7946 0000' "
           "as phone, '@me' as handle, char(9) || 'tab' as t")
    for params in ({"sql": sql, "_dl": "1"}, {"sql": sql}):
        response = await datasette.client.get("/commissioning.csv", params=params)
        assert response.status_code == 200
        header, row = rows_of(response.text)
        assert header == ["'=link", "n", "i", "phone", "handle", "t"]
        assert row == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "-5", "-7", "'+44 20 7946 0000", "'@me", "'\ttab"]
    attachment = await datasette.client.get("/commissioning.csv", params={"sql": sql, "_dl": "1"})
    assert attachment.headers["content-disposition"].startswith("attachment")


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("params, message", [
    ({"sql": "select * from no_such_table"}, "The query failed: no such table: no_such_table."),
    ({"sql": "select * from no_such_table", "_dl": "1"}, "no such table: no_such_table"),
    ({"sql": "select randomblob(999999999)", "_header": "off"}, "string or blob too big"),
    ({"sql": "select name from no_such_table", "_stream": "1"}, "no such table"),
])
async def test_a_failed_query_csv_is_400_with_its_message(datasette, params, message):
    # Datasette 0.65 sent these as 200 with an empty header row.
    response = await datasette.client.get("/commissioning.csv", params=params)
    assert response.status_code == 400, (response.status_code, response.text[:200])
    assert message in response.text and response.headers["content-type"].startswith("text/plain")
    assert "content-disposition" not in response.headers  # no attachment to save as if it were data
    json_error = (await datasette.client.get("/commissioning.json", params={"sql": params["sql"]})).json()["error"]
    assert json_error.split(":")[0] in response.text  # the same error the .json of the address gives


@pytest.mark.asyncio(loop_scope="session")
async def test_an_empty_csv_of_a_query_that_worked_is_still_200(datasette):
    empty = await datasette.client.get("/commissioning.csv", params={"sql": "select 1 as a where 0", "_header": "off"})
    assert (empty.status_code, empty.text) == (200, "")
    header_only = await datasette.client.get("/commissioning.csv", params={"sql": "select 1 as a where 0"})
    assert (header_only.status_code, header_only.text) == (200, "a\r\n")
    streamed = await datasette.client.get("/commissioning/boroughs.csv", params={"_stream": "1"})
    assert streamed.status_code == 200 and len(rows_of(streamed.text)) == 1 + (await datasette.client.get(
        "/commissioning.json", params={"sql": "select count(*) from boroughs", "_shape": "arrayfirst"})).json()[0]


@pytest.fixture(scope="module")
def formula_db(tmp_path_factory):
    """A database written straight (no build validation) with formula-leading cells in every row."""
    path = tmp_path_factory.mktemp("formulas") / "formulas.db"
    db = sqlite3.connect(path)
    db.execute("create table cells (id integer primary key, text text, number real, note text)")
    db.executemany("insert into cells values (?, ?, ?, ?)", [
        (i, FORMULAS[i % len(FORMULAS)], -i / 4, f"row {i}\n=SUM(A1:A{i})") for i in range(1, 12001)])
    db.commit()
    db.close()
    return path


def check_neutralised(text: str, expected_rows_count: int) -> None:
    rows = rows_of(text)
    assert len(rows) == expected_rows_count + 1
    for row in rows[1:]:
        assert row[1].startswith("'") and row[1][1:] in FORMULAS, row
        float(row[2])  # numbers are unchanged, still numbers
        assert not row[2].startswith("'")
        assert row[3].startswith("row ")  # starts with text: unchanged even though a later line has a formula


@pytest.mark.asyncio(loop_scope="session")
async def test_table_csv_plain_download_and_stream_are_neutralised(formula_db):
    ds = make_datasette([formula_db])
    plain = await ds.client.get("/formulas/cells.csv?_size=100")
    assert plain.status_code == 200
    check_neutralised(plain.text, 100)
    download = await ds.client.get("/formulas/cells.csv?_size=max&_dl=1")
    check_neutralised(download.text, 5000)
    stream = await ds.client.get("/formulas/cells.csv?_stream=1&_dl=1")
    assert stream.status_code == 200
    check_neutralised(stream.text, 12000)
    query = await ds.client.get("/formulas.csv", params={"sql": "select id, text, number, note from cells limit 50"})
    check_neutralised(query.text, 50)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", ["/commissioning/-/lcpf-explorer.csv", "/synthetic_demo/-/lcpf-explorer.csv",
                                  "/commissioning/funding_decisions.csv?_stream=on",
                                  "/synthetic_demo/measure_results.csv?_size=max",
                                  "/commissioning/borough_services.csv?borough=E09000008&_size=max"])
async def test_the_sites_own_csv_downloads_have_no_formula_cells(datasette, path):
    response = await datasette.client.get(path)
    assert response.status_code == 200, response.text[:300]
    rows = rows_of(response.text)
    assert len(rows) > 1
    for row in rows:
        for cell in row:
            assert neutralise_cell(cell) == cell, (path, cell)
