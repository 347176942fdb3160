"""The bad-input corpus in tests/bad_inputs/: each case is refused with file:row:column messages (exit 1, published
database byte-identical) or accepted safely (exit 0, values stored verbatim). See tests/bad_inputs/README.md."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from scripts.site import ROOT
from tests.build_helpers import digest, run_build

DATA = ROOT / "data"
CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").exists())


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of data/ (taken once, so other edits to data/ during the run cannot interfere) and its database."""
    root = tmp_path_factory.mktemp("bad_inputs_base")
    data = root / "data"
    shutil.copytree(DATA, data)
    published = root / "published.db"
    result = run_build(data, published)
    assert result.returncode == 0, result.stderr
    return data, published


# --- the ops a case may apply -----------------------------------------------------------------------------------


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def value_of(spec) -> str:
    return spec["repeat"] * spec["times"] if isinstance(spec, dict) else spec


def schema_path(data: Path, resource: str) -> Path:
    return data / "schemas" / f"{resource}.json"


def resource_file(data: Path, resource: str) -> Path:
    descriptor = json.loads((data / "datapackage.json").read_text(encoding="utf-8"))
    return data / next(r["path"] for r in descriptor["resources"] if r["name"] == resource)


def apply(op: dict, data: Path) -> None:
    kind = op["op"]
    path = data / op["file"] if "file" in op else None
    if kind == "set_cell":
        rows = read_rows(path)
        rows[op["row"] - 1][rows[0].index(op["column"])] = value_of(op["value"])
        write_rows(path, rows)
    elif kind == "add_column":
        rows = read_rows(path)
        write_rows(path, [rows[0] + [op["name"]]] + [r + [op["value"]] for r in rows[1:]])
    elif kind == "append_text_to_line":
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[op["row"] - 1] = lines[op["row"] - 1].rstrip("\r\n") + op["text"] + "\n"
        path.write_text("".join(lines), encoding="utf-8")
    elif kind == "replace_text":
        text = path.read_text(encoding="utf-8")
        assert op["old"] in text, op
        path.write_text(text.replace(op["old"], op["new"], op.get("count", -1)), encoding="utf-8")
    elif kind == "delete_rows_where":
        rows = read_rows(path)
        column = rows[0].index(op["column"])
        write_rows(path, [rows[0]] + [r for r in rows[1:] if r[column] != op["value"]])
    elif kind == "keep_lines":
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[: op["lines"]]), encoding="utf-8")
    elif kind == "write":
        path.write_text(op["text"], encoding="utf-8")
    elif kind == "delete":
        path.unlink()
    elif kind == "encode":
        path.write_bytes(path.read_text(encoding="utf-8").encode(op["encoding"]))
    elif kind == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    elif kind == "crlf":
        # Only the record separators: a line break inside a quoted cell stays as it is.
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(read_rows(path))
        path.write_bytes(buffer.getvalue().encode("utf-8"))
    elif kind in ("add_field", "schema_set", "field_set"):
        spath = schema_path(data, op["resource"])
        schema = json.loads(spath.read_text(encoding="utf-8"))
        if kind == "add_field":
            schema["fields"].append(op["field"])
            csv_path = resource_file(data, op["resource"])
            rows = read_rows(csv_path)
            write_rows(csv_path, [rows[0] + [op["field"]["name"]]] + [r + [op["value"]] for r in rows[1:]])
        elif kind == "schema_set":
            schema[op["key"]] = op["value"]
        else:
            next(f for f in schema["fields"] if f["name"] == op["field"])[op["key"]] = op["value"]
        spath.write_text(json.dumps(schema), encoding="utf-8")
    else:
        raise ValueError(f"unknown op {kind!r}")


# --- the tests ---------------------------------------------------------------------------------------------------


def test_corpus_covers_what_the_issue_asks():
    """Issue 9's corpus, and issue 15's build guards: control characters, tables emptied or shrunk, file-level
    problems first."""
    assert len(CASES) >= 25
    refused = [c for c in CASES if json.loads((CORPUS / c / "case.json").read_text())["expect"]["exit"] == 1]
    accepted = [c for c in CASES if c not in refused]
    assert len(refused) >= 20 and len(accepted) >= 6
    ops = {op["op"] for c in CASES for op in json.loads((CORPUS / c / "case.json").read_text())["ops"]}
    assert {"encode", "bom", "crlf", "write", "keep_lines", "add_column"} <= ops
    for guard in ("32_nul_byte", "36_header_only_file_empties_a_published_table",
                  "38_wrongly_encoded_file_is_reported_first", "59_header_only_allowed_with_allow_shrink"):
        assert guard in CASES


@pytest.mark.parametrize("case", CASES)
def test_bad_input_case(base, tmp_path, case):
    spec = json.loads((CORPUS / case / "case.json").read_text(encoding="utf-8"))
    base_data, base_db = base
    data = tmp_path / "data"
    shutil.copytree(base_data, data)
    if (CORPUS / case / "files").is_dir():
        shutil.copytree(CORPUS / case / "files", data, dirs_exist_ok=True)
    for op in spec["ops"]:
        apply(op, data)
    published = tmp_path / "published.db"
    shutil.copyfile(base_db, published)
    before = digest(published)

    result = run_build(data, published, extra=tuple(spec.get("args", ())))

    expect = spec["expect"]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == expect["exit"], result.stderr[-3000:]
    for message in expect.get("stderr", []):
        assert message in result.stderr, f"{message!r} not in:\n{result.stderr[-3000:]}"
    for message in expect.get("absent", []):
        assert message not in result.stderr, f"{message!r} in:\n{result.stderr[-3000:]}"
    if expect["exit"] != 0:
        for message in expect["errors"]:
            assert message in result.stderr, f"{message!r} not in:\n{result.stderr[-3000:]}"
        if "first_error" in expect:  # a file-level problem comes before everything else
            assert result.stderr.splitlines()[0].startswith(expect["first_error"]), result.stderr[-3000:]
        assert "was not changed" in result.stderr
        assert digest(published) == before
    else:
        # The build is deterministic: a BOM or CRLF changes nothing at all; real changes change the file.
        assert (digest(published) == before) == expect.get("same_as_base", False)
        db = sqlite3.connect(published)
        for check in expect["checks"]:
            assert [list(r) for r in db.execute(check["sql"]).fetchall()] == check["equals"], check["sql"]
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
    assert not list(tmp_path.glob(".published.db.*"))  # no temporary file left behind either way
