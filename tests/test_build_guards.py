"""Issue 15's build guards beyond the bad-input corpus (tests/bad_inputs/ 32-40, 52, 59-61): control characters found
by the quick file test as well as cell by cell, temporary files of killed builds removed, the synthetic package
written atomically, demo builds of any size, the shrink guard's rules, and ALLOW_SHRINK through make."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from array import array
from pathlib import Path

import pytest

from scripts.publication import build, package, validate
from scripts.site import ROOT
from tests.build_helpers import copy_data, run_build

# --- control characters --------------------------------------------------------------------------------------------

CONTROL_SAMPLES = [
    "abc\x00def", "\x01", "x\x08", "x\x0b", "\x0cx", "a\x1fb", "a\x7fb", "a\x85b", "a\x9fb", "a\rb", "a\r", "\r",
    "a\x1cb",
]
CLEAN_SAMPLES = ["plain", "tab\there", "line\nbreak", "crlf\r\nbreak", "£5 café — Zoë", "\xa0non-breaking", "\u2028"]


@pytest.mark.parametrize("cell", CONTROL_SAMPLES)
def test_every_field_type_refuses_a_control_character(cell):
    for type_ in ("string", "integer", "number", "date", "boolean"):
        with pytest.raises(ValueError, match=r"cell has (the control character U\+|a carriage return)"):
            validate.cast(cell, {"name": "x", "type": type_})
        assert validate.CONTROL_CHARACTER.search(cell)
        assert package.may_have_controls(cell.encode("utf-8"))  # the quick file test never misses one


@pytest.mark.parametrize("cell", CLEAN_SAMPLES)
def test_tab_and_line_breaks_are_not_control_characters(cell):
    assert validate.cast(cell, {"name": "x", "type": "string"}) == cell
    assert not package.may_have_controls(cell.encode("utf-8"))


@pytest.mark.parametrize("field_def", [
    {"name": "n", "type": "integer"}, {"name": "amount_gbp", "type": "number"}, {"name": "note", "type": "string"},
    {"name": "day", "type": "date"},
], ids=lambda f: f["type"])
def test_the_fast_check_refuses_what_cast_refuses(field_def):
    """int() and float() ignore \\x1c-\\x1f around a number, and text passes the quick test unless it is searched:
    the column check must still report each cell, as cast does, when the file may hold control characters."""
    cells = ("5\x1c", "\x1f7", "2024-01-01\x00", "ok\x00", "7", "2024-01-01", "ok")
    check = validate.ColumnCheck(field_def, False, "x.csv", controls=True)
    problems = []
    check.add(cells, array("I", range(2, 2 + len(cells))), problems)
    reported = {p.row for p in problems if "control character" in p.reason}
    assert reported == {2, 3, 4, 5}
    assert check.values[:4] == [None] * 4


def test_a_clean_file_is_not_searched_cell_by_cell(tmp_path):
    path = tmp_path / "clean.csv"
    path.write_bytes("id,name\r\n1,Zoë £5\r\n2,\"two\r\nlines\"\r\n".encode())
    resource = package.Resource("clean", path, "clean.csv", "csv", {"fields": [{"name": "id"}, {"name": "name"}]})
    raw, problems = package.read_csv(resource)
    assert problems == [] and raw.controls is False
    path.write_bytes(b"id,name\n1,a\x00b\n")
    raw, _ = package.read_csv(resource)
    assert raw.controls is True


def test_a_control_character_that_str_splitlines_honours_does_not_split_the_row(tmp_path):
    path = tmp_path / "nel.csv"
    path.write_bytes("id,name\n1,before\x85after\n2,fine\n".encode())
    resource = package.Resource("nel", path, "data/nel.csv", "csv", {"fields": [{"name": "id"}, {"name": "name"}]})
    table, problems = validate.validate_rows(resource, package.read_csv(resource)[0], None)
    assert [str(p) for p in problems] == [
        "data/nel.csv:2:name: cell has the control character U+0085 at character 7 (only tab and line breaks may "
        "appear in a cell); remove it"
    ]
    assert list(table.numbers) == [2, 3]


# --- temporary files of killed builds ------------------------------------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_later_build_removes_temporary_files_of_killed_builds_only(tmp_path):
    data = copy_data(tmp_path / "data", cut_crime_to_rows=40)
    out = tmp_path / "published.db"
    gone = tmp_path / f".published.db.{dead_pid()}.tmp"
    gone.write_bytes(b"x" * 1000)
    running = tmp_path / f".published.db.{os.getpid()}.tmp"  # this test's own process is running
    running.write_bytes(b"y")
    other = tmp_path / f".other.db.{dead_pid()}.tmp"  # another database's: not this build's to judge
    other.write_bytes(b"z")

    result = run_build(data, out)  # the clean-up comes first, whether the data then builds or not

    assert "Traceback" not in result.stderr, result.stderr
    assert not gone.exists()
    assert f"removed {gone}, left by a build that was killed" in result.stderr
    assert running.exists() and other.exists()


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def generate(source: Path, out: Path, size: int, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scripts.generate_synthetic", "--source", str(source), "--size", str(size),
               "--out", str(out), "--today", "2026-11-25"]
    if kwargs.get("background"):
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_generate_synthetic_killed_midway_leaves_the_package_whole(tmp_path):
    source = copy_data(tmp_path / "data", cut_crime_to_rows=40)
    out = tmp_path / "synthetic_data"
    assert generate(source, out, 30).returncode == 0
    before = tree_digest(out)

    process = generate(source, out, 20_000, background=True)
    work = tmp_path / f".synthetic_data.{process.pid}.tmp"
    deadline = time.time() + 120
    while not (work / "datapackage.json").exists():
        assert process.poll() is None, "the generator finished without writing to a temporary folder"
        assert time.time() < deadline
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert tree_digest(out) == before  # the published package is as it was, not half written
    again = generate(source, out, 30)
    assert again.returncode == 0, again.stderr
    assert f"removed {work}" in again.stderr
    assert tree_digest(out) == before  # same size, seed and date: the same package
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".synthetic_data.")] == []


# --- the shrink guard ----------------------------------------------------------------------------------------------


def test_demo_builds_of_any_size_replace_each_other(tmp_path):
    """The guard protects published real data; a synthetic package is whatever size `make demo N=` asks for."""
    source = copy_data(tmp_path / "data", cut_crime_to_rows=40)
    package_dir, out = tmp_path / "synthetic_data", tmp_path / "synthetic_demo.db"
    sizes = []
    for size in (60, 6):
        assert generate(source, package_dir, size).returncode == 0
        result = run_build(package_dir, out)
        assert result.returncode == 0, result.stderr[-2000:]
        sizes.append(sqlite3.connect(out).execute("select count(*) from services").fetchone()[0])
    assert sizes == [60, 6]


def make_db(path: Path, synthetic: str | None, rows: int) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("create table vru_funding (x)")
    conn.executemany("insert into vru_funding values (?)", [(i,) for i in range(rows)])
    if synthetic is not None:
        conn.execute("create table build_info (key, value)")
        conn.execute("insert into build_info values ('synthetic', ?)", (synthetic,))
    conn.commit()
    conn.close()
    return path


def test_the_database_being_replaced_is_compared_only_when_it_is_real(tmp_path):
    names = ["vru_funding", "not_there"]
    assert build.previous_row_counts(make_db(tmp_path / "real.db", "false", 15), names) == {"vru_funding": 15}
    assert build.previous_row_counts(make_db(tmp_path / "old.db", None, 3), names) == {"vru_funding": 3}
    assert build.previous_row_counts(make_db(tmp_path / "demo.db", "true", 15), names) is None
    assert build.previous_row_counts(tmp_path / "missing.db", names) is None
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert build.previous_row_counts(tmp_path / "junk.db", names) is None


@pytest.mark.parametrize("old,new,refused", [(15, 0, True), (15, 7, True), (15, 8, False), (2, 1, False),
                                             (0, 0, False), (15, 30, False)])
def test_shrink_limit(tmp_path, old, new, refused):
    resource = package.Resource("vru_funding", tmp_path / "f.csv", "data/vru/vru_funding.csv", "csv", {"fields": []})
    pkg = package.Package(tmp_path, {}, {"vru_funding": resource})
    previous = make_db(tmp_path / "published.db", "false", old)
    context = build.BuildContext(pkg, {}, None, previous)
    problems, notes = build.shrink_problems({"vru_funding": new}, context, previous)
    assert bool(problems) == refused and notes == []
    allowed = build.BuildContext(pkg, {}, None, previous, frozenset({"vru_funding"}))
    problems, notes = build.shrink_problems({"vru_funding": new}, allowed, previous)
    assert problems == [] and bool(notes) == refused


def test_allow_shrink_names_only_tables_loaded_from_csv(tmp_path):
    data = copy_data(tmp_path / "data", cut_crime_to_rows=40)
    result = run_build(data, tmp_path / "out.db", extra=("--allow-shrink", "vru_funding,no_such_table"))
    assert result.returncode == 1
    assert "data/datapackage.json:1:-: --allow-shrink no_such_table: no table of that name is loaded from CSV" in (
        result.stderr)
    assert not (tmp_path / "out.db").exists()


def test_make_passes_allow_shrink_to_the_build():
    result = subprocess.run(["make", "-n", "build-real", "ALLOW_SHRINK=vru_funding services"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    command = next(line for line in result.stdout.splitlines() if "scripts.build_database" in line)
    assert command.rstrip().endswith("--allow-shrink vru_funding --allow-shrink services")
