"""data/ -> validated -> build/<name>.db, written to a temporary file and renamed only when everything succeeded.

Guards besides validation: a table loaded from CSV may not become empty, nor lose more than SHRINK_LIMIT of its rows,
compared with the database being replaced, unless the build is told `--allow-shrink TABLE` (a truncated or header-only
file must not silently empty a published table). The guard is off for a synthetic package (its size is whatever
`make demo N=` asks) and when the database being replaced is synthetic. Temporary files left by builds that were
killed (`.<name>.<pid>.tmp` of a process no longer running) are removed by the next build.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import shutil
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from . import domains
from .package import Package, PackageError, Problem, load_package
from .validate import ValidatedTable, validate_package

SQL_TYPES = {"string": str, "integer": int, "number": float, "date": str, "boolean": int}
# A table loaded from CSV may lose at most this share of the rows it has in the database being replaced (and may not
# become empty) unless the build is given --allow-shrink TABLE.
SHRINK_LIMIT = 0.5


@dataclass
class BuildContext:
    package: Package
    tables: dict[str, ValidatedTable]  # schema and row numbers; the values are released once loaded (read the db)
    today: dt.date
    previous_db: Path | None = None  # the database being replaced, for change logs
    allow_shrink: frozenset[str] = frozenset()  # tables that may shrink past SHRINK_LIMIT or become empty


class BuildFailed(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def dependency_order(tables: dict[str, ValidatedTable]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for fk in tables[name].resource.schema.get("foreignKeys", []):
            target = fk["reference"]["resource"]
            if target in tables and target != name:
                visit(target)
        visiting.discard(name)
        order.append(name)

    for name in tables:
        visit(name)
    return order


def create_table(db: sqlite_utils.Database, table: ValidatedTable) -> None:
    schema = table.resource.schema
    columns = {f["name"]: SQL_TYPES[f.get("type", "string")] for f in schema["fields"]}
    pk = schema.get("primaryKey")
    foreign_keys = [
        (fk["fields"][0], fk["reference"]["resource"], fk["reference"]["fields"][0])
        for fk in schema.get("foreignKeys", [])
        if fk["reference"]["resource"] != table.resource.name
    ]
    not_null = {f["name"] for f in schema["fields"] if f.get("constraints", {}).get("required")}
    # A compound primary key becomes a rowid table with a unique index: Datasette 0.65's keyset pagination
    # over compound text keys repeats and skips rows when streaming CSV, while rowid paging is exact.
    db[table.resource.name].create(
        columns,
        pk=pk[0] if pk and len(pk) == 1 else None,
        foreign_keys=foreign_keys,
        not_null=not_null,
    )
    columns_sql = ", ".join(f"[{name}]" for name in table.names)
    placeholders = ", ".join("?" for _ in table.names)
    # The values are typed already (str, int, float or None), so they go to SQLite as they are: sqlite-utils'
    # insert_all would look at each one again (jsonify_if_needed) and build multi-row INSERTs.
    db.conn.executemany(f"INSERT INTO [{table.resource.name}] ({columns_sql}) VALUES ({placeholders})", table.tuples())


def index_table(db: sqlite_utils.Database, table: ValidatedTable) -> None:
    schema = table.resource.schema
    name = table.resource.name
    wanted: list[tuple[str, ...]] = [tuple(cols) for cols in schema.get("x-index", [])]
    wanted += [tuple(fk["fields"]) for fk in schema.get("foreignKeys", [])]
    wanted += [(f["name"],) for f in schema["fields"] if f.get("type") == "date"]
    pk = tuple(schema.get("primaryKey") or ())
    if len(pk) > 1:
        db[name].create_index(list(pk), unique=True, if_not_exists=True)
    seen = set()
    for cols in wanted:
        if cols in seen or cols == pk:
            continue
        seen.add(cols)
        db[name].create_index(list(cols), if_not_exists=True)
    if schema.get("x-fts"):
        db[name].enable_fts(schema["x-fts"], tokenize="porter", create_triggers=False)


def write_build_info(db: sqlite_utils.Database, context: BuildContext) -> None:
    package = context.package.descriptor
    db["build_info"].insert_all(
        [
            {"key": "build_date", "value": context.today.isoformat()},
            {"key": "data_package_title", "value": package.get("title", "")},
            {"key": "synthetic", "value": "true" if package.get("x-synthetic") else "false"},
        ],
        pk="key",
    )


def post_load_checks(db: sqlite_utils.Database) -> list[Problem]:
    problems = []
    for row in db.execute("PRAGMA foreign_key_check").fetchall():
        problems.append(Problem(str(row[0]), row[1] or 0, row[2], f"foreign key to {row[2]} does not resolve"))
    return problems


def integrity_problems(db: sqlite_utils.Database) -> list[Problem]:
    (result,) = db.execute("PRAGMA integrity_check").fetchone()
    if result != "ok":
        return [Problem("database", 0, "-", f"integrity check failed: {result}")]
    return []


def check_built_database(db: sqlite_utils.Database, path: Path, context: BuildContext) -> list[Problem]:
    """Every check of the finished (committed) database. SQLite's integrity check, the longest, runs on this
    connection while the foreign-key and domain checks run at the same time on a second one in another thread
    (sqlite3 releases the GIL while SQLite works), so the two cores share them."""

    def other_checks() -> list[Problem]:
        second = sqlite_utils.Database(path)
        try:
            return post_load_checks(second) + [p for check in domains.checks() for p in check(second, context)]
        finally:
            second.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        others = pool.submit(other_checks)
        integrity = integrity_problems(db)
        return others.result() + integrity


def previous_row_counts(previous_db: Path | None, names) -> dict[str, int] | None:
    """Rows of each named table in the database being replaced; None when there is none or it is synthetic."""
    if previous_db is None or not previous_db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{previous_db}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
        if "build_info" in tables:
            row = conn.execute("select value from build_info where key = 'synthetic'").fetchone()
            if row and row[0] == "true":
                return None
        return {name: conn.execute(f"select count(*) from [{name}]").fetchone()[0] for name in names if name in tables}
    except sqlite3.Error:
        return None  # not a database we can read: nothing to compare with
    finally:
        conn.close()


def shrink_problems(counts: dict[str, int], context: BuildContext, out_path: Path) -> tuple[list[Problem], list[str]]:
    """(problems, notes): a CSV-loaded table that would become empty or lose more than SHRINK_LIMIT of its rows,
    refused unless it is in context.allow_shrink (then a note says so)."""
    if context.package.descriptor.get("x-synthetic"):
        return [], []
    resources = {r.name: r for r in context.package.csv_resources()}
    before = previous_row_counts(context.previous_db, resources)
    problems, notes = [], []
    for name, old in sorted((before or {}).items()):
        new = counts.get(name, 0)
        if old == 0 or (new > 0 and new >= old * (1 - SHRINK_LIMIT)):
            continue
        change = f"{name} would go from {old} rows to {new}" + (" (empty)" if new == 0 else "")
        if name in context.allow_shrink:
            notes.append(f"note: {change} in {out_path}, allowed by --allow-shrink {name}")
            continue
        problems.append(
            Problem(
                resources[name].display_path,
                1,
                "-",
                f"{change} in {out_path}: refused, since a table may not become empty or lose more than "
                f"{SHRINK_LIMIT:.0%} of its rows by accident (a truncated or header-only file). If this is intended, "
                f"build again with --allow-shrink {name} (make: ALLOW_SHRINK={name})",
            )
        )
    return problems, notes


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:  # a killed process not yet reaped by its parent is a zombie: it will never finish its build
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove `.<target name>.<pid>.tmp` (and `.old`) files or folders beside target left by processes that are no
    longer running (a build or `make demo` that was killed); those of running processes are left alone."""
    removed = []
    prefix = f".{target.name}."
    if not target.parent.is_dir():
        return removed
    for path in target.parent.iterdir():
        name = path.name
        if not name.startswith(prefix) or not name.endswith((".tmp", ".old")):
            continue
        pid = name[len(prefix) : -len(".tmp")]
        if not pid.isdigit() or _pid_running(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def build_database(
    data_dir: Path,
    out_path: Path,
    today: dt.date,
    timings: dict[str, float] | None = None,
    allow_shrink: frozenset[str] = frozenset(),
) -> dict[str, int]:
    """Validate data_dir and build out_path atomically. Raises BuildFailed with every problem found.

    `allow_shrink` names CSV-loaded tables that may become empty or shrink by more than SHRINK_LIMIT.

    `timings`, when given, receives the seconds spent in each phase: read_validate, cross_file_checks, load,
    indexes_fts, derive:<domain> (one per derive step), post_build_checks, analyze_vacuum and finish.
    """
    # The build makes millions of small objects that all live until the end: the cyclic garbage collector would only
    # walk them over and over (full collections grow with the heap), so it is off while building.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(data_dir, out_path, today, timings if timings is not None else {}, frozenset(allow_shrink))
    finally:
        if gc_was_enabled:
            gc.enable()


class _Clock:
    """Adds the seconds since the previous mark to timings[phase]."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.last = time.perf_counter()

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self.last
        self.last = now


def _build(
    data_dir: Path, out_path: Path, today: dt.date, timings: dict[str, float], allow_shrink: frozenset[str]
) -> dict[str, int]:
    for stale in remove_stale_temporaries(out_path):
        print(f"removed {stale}, left by a build that was killed", file=sys.stderr)
    try:
        package = load_package(data_dir)
    except PackageError as exc:
        raise BuildFailed([Problem(str(exc).split(":")[0], 1, "-", str(exc))]) from exc
    unknown = sorted(allow_shrink - {r.name for r in package.csv_resources()})
    if unknown:
        where = str(Path(package.root.name) / "datapackage.json")
        raise BuildFailed(
            [Problem(where, 1, "-", f"--allow-shrink {name}: no table of that name is loaded from CSV")
             for name in unknown]
        )
    tables, problems = validate_package(package, extra_rules=domains.rules(), timings=timings)
    if problems:
        raise BuildFailed(problems)
    clock = _Clock(timings)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    tmp_path.unlink(missing_ok=True)
    context = BuildContext(package, tables, today, out_path if out_path.exists() else None, allow_shrink)
    # The rows read are at least those that will be published (unapproved rows are dropped later), so a table that
    # shrinks too far already is refused before anything is written; the built counts are checked again at the end.
    early, _ = shrink_problems({name: len(table) for name, table in tables.items()}, context, out_path)
    if early:
        raise BuildFailed(early)
    try:
        db = sqlite_utils.Database(tmp_path)
        db.conn.execute("PRAGMA journal_mode = OFF")
        db.conn.execute("PRAGMA synchronous = OFF")
        # Deleted rows (such as unapproved measure results) are overwritten with zeros at once, so no VACUUM is needed
        # to keep their text out of the published file.
        db.conn.execute("PRAGMA secure_delete = ON")
        for name in dependency_order(tables):
            create_table(db, tables[name])
            tables[name].release()
        clock.mark("load")
        for name in tables:
            index_table(db, tables[name])
        clock.mark("indexes_fts")
        for step in domains.derive_steps():
            step(db, context)
            clock.mark(f"derive:{step.__module__.rsplit('.', 1)[-1]}")
        write_build_info(db, context)
        db.conn.commit()  # before the checks, which read the file from a second connection too
        problems = check_built_database(db, tmp_path, context)
        clock.mark("post_build_checks")
        if problems:
            raise BuildFailed(problems)
        db.execute("ANALYZE")
        # Pages freed by the derive steps are normally reused by later inserts; VACUUM (which rewrites the whole file,
        # about a tenth of the build) only when some are still free, to keep the file compact.
        if db.execute("PRAGMA freelist_count").fetchone()[0]:
            db.vacuum()
        clock.mark("analyze_vacuum")
        counts = {t: db[t].count for t in db.table_names() if not t.startswith("sqlite_") and "_fts" not in t}
        db.close()
        problems, notes = shrink_problems(counts, context, out_path)
        if problems:
            raise BuildFailed(problems)
        for note in notes:
            print(note, file=sys.stderr)
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, out_path)
        clock.mark("finish")
        return counts
    finally:
        tmp_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Validate data/ and build the SQLite database served by Datasette.")
    parser.add_argument("--data", type=Path, default=Path("data"), help="data package folder (default: data)")
    parser.add_argument("--out", type=Path, default=Path("build/commissioning.db"))
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=dt.date.fromisoformat(os.environ["BUILD_DATE"]) if os.environ.get("BUILD_DATE") else dt.date.today(),
        help="build date used for derived statuses (default: $BUILD_DATE or today)",
    )
    parser.add_argument(
        "--allow-shrink",
        action="append",
        default=[],
        metavar="TABLE",
        help=f"let TABLE (loaded from CSV) become empty or lose more than {SHRINK_LIMIT:.0%} of the rows it has in the "
        "database being replaced; repeatable, or comma-separated (make: ALLOW_SHRINK='a b')",
    )
    parser.add_argument(
        "--timings",
        action="store_true",
        help='print "timings: {json}" to stderr: seconds per build phase (read_validate, cross_file_checks, load, '
        "indexes_fts, derive:<domain>, post_build_checks, analyze_vacuum, finish, total)",
    )
    args = parser.parse_args(argv)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        allow = frozenset(name.strip() for value in args.allow_shrink for name in value.split(",") if name.strip())
        counts = build_database(args.data, args.out, args.today, timings, allow)
    except BuildFailed as failure:
        for problem in failure.problems:
            print(problem, file=sys.stderr)
        print(
            f"build failed: {len(failure.problems)} problem(s); {args.out} was not changed",
            file=sys.stderr,
        )
        return 1
    finally:
        if args.timings:
            timings["total"] = time.perf_counter() - started
            print("timings: " + json.dumps({k: round(v, 3) for k, v in timings.items()}), file=sys.stderr)
    print(f"built {args.out}: " + json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
