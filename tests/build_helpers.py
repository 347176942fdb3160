"""Helpers for tests that build a database from an edited copy of data/ (bad input, change log, status dates)."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.site import ROOT

DATA = ROOT / "data"
BUILD_DATE = "2026-11-25"


def copy_data(target: Path, cut_crime_to_rows: int | None = None) -> Path:
    """Copy data/ to target; optionally keep only the first rows of the large crime files for quicker builds."""
    shutil.copytree(DATA, target)
    if cut_crime_to_rows is not None:
        for path in (target / "crime").glob("*.csv"):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            path.write_text("".join(lines[: cut_crime_to_rows + 1]), encoding="utf-8")
    return target


def run_build(
    data: Path, out: Path, today: str = BUILD_DATE, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """The real build command, as `make build` runs it, with a fixed build date (and any `extra` arguments)."""
    return subprocess.run(
        [sys.executable, "-m", "scripts.build_database", "--data", str(data), "--out", str(out), "--today", today,
         *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def append_row(path: Path, cells: dict) -> int:
    """Append a row (missing columns empty); returns its spreadsheet row number (header = 1)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows.append([cells.get(name, "") for name in rows[0]])
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return len(rows)


BUILT_DATABASES = ["commissioning", "synthetic_demo"]


def connect_built(name: str, rows: bool = False):
    """A connection to build/<name>.db (sqlite3.Row rows when `rows`)."""
    import sqlite3

    from scripts.site import BUILD

    db = sqlite3.connect(BUILD / f"{name}.db")
    if rows:
        db.row_factory = sqlite3.Row
    return db
