"""Move reviewed inbox rows into data/ (`make accept`), through the same validation and checks the build runs.

    python -m scripts.accept_inbox [--data data] [--inbox data/inbox] [--today YYYY-MM-DD]

In each data/inbox/<target>.csv (written by `make refresh`), a row whose review column says `accept` is added to the
target file (proposed_action add) or replaces the row with the same primary key (update); a row that says `reject`
is dropped and noted in data/inbox/rejected.csv, so that a refresh does not propose the same release again. Other
rows stay in the inbox. Before anything is written, a copy of data/ with the accepted rows is built exactly as
`make build` builds data/ (scripts/publication/build.py: validation, cross-file rules, post-build checks); any problem
is printed as data/inbox/<target>.csv:<row>:<column>: <reason>, the exit status is 1 and neither data/ nor the inbox
changes. Only the records accepted are touched in the target files (the other lines stay byte for byte).
On accept, an empty integer primary key (funding_decisions.record_id) gets the next free number, and where the
target has last_verified and review_due, the accepted row is marked verified today and given its next review date as
the target's schema describes it: a service six months on, an opportunity three months on or at its closing date when
that comes sooner.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import fcntl
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from scripts.common.dates import REVIEW_MONTHS, add_months
from scripts.publication.build import BuildFailed, build_database
from scripts.publication.package import PackageError, Resource, load_package
from scripts.refresh_ocds import (
    EXTRA_COLUMNS,
    REJECTED,
    REJECTED_COLUMNS,
    TARGETS,
    inbox_columns,
    proposal_key,
    read_csv_rows,
    write_csv,
)

ACCEPT, REJECT = "accept", "reject"
# Months to the next review, by target (the schemas' review_due descriptions); an opportunity is due at its closing
# date when that comes sooner.
REVIEW_INTERVAL = {"funding_opportunities": 3, "services": REVIEW_MONTHS}


def review_due(target: str, values: dict, today: dt.date) -> str:
    due = add_months(today, REVIEW_INTERVAL.get(target, REVIEW_MONTHS))
    closing = values.get("closing_date", "") if target == "funding_opportunities" else ""
    try:
        closing_day = dt.date.fromisoformat(closing) if closing else None
    except ValueError:
        closing_day = None  # validation reports the bad date
    if closing_day and today <= closing_day < due:
        due = closing_day
    return due.isoformat()


def split_records(text: str) -> list[str]:
    """The raw text of each CSV record, line endings kept (a record ends at a line end outside quotes)."""
    records, current, quotes = [], "", 0
    for line in text.splitlines(keepends=True):
        current += line
        quotes += line.count('"')
        if quotes % 2 == 0:
            records.append(current)
            current, quotes = "", 0
    if current:
        records.append(current)
    return records


def line_ending(record: str) -> str:
    return "\r\n" if record.endswith("\r\n") else "\n"


def format_record(values: list[str], eol: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=eol).writerow(values)
    return buffer.getvalue()


def parse_record(record: str) -> list[str]:
    return next(csv.reader([record]), [])


@dataclass
class TargetPlan:
    resource: Resource
    inbox_path: Path
    inbox_fields: list[str]
    inbox_rows: list[dict]
    accepted: list[tuple[int, dict]] = field(default_factory=list)  # (inbox row number, row)
    rejected: list[tuple[int, dict]] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)
    original: bytes = b""
    staged_text: str = ""
    row_origin: dict[int, int] = field(default_factory=dict)  # staged row number -> inbox row number
    changes: list[str] = field(default_factory=list)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def plan_target(resource: Resource, inbox_path: Path, problems: list[str]) -> TargetPlan:
    fields, rows = read_csv_rows(inbox_path)
    plan = TargetPlan(resource, inbox_path, fields, rows)
    where = _display(inbox_path)
    missing = [c for c in resource.field_names + ["proposed_action", "review"] if c not in fields]
    if missing:
        problems.append(f"{where}:1:{missing[0]}: missing column (the inbox has the target's columns plus "
                        f"{', '.join(EXTRA_COLUMNS)})")
        return plan
    for number, row in enumerate(rows, 2):
        review = (row.get("review") or "").strip().lower()
        if review == ACCEPT:
            if row.get("proposed_action") not in ("add", "update"):
                problems.append(f"{where}:{number}:proposed_action: must be add or update, not "
                                f"{row.get('proposed_action')!r}")
            plan.accepted.append((number, row))
        elif review == REJECT:
            plan.rejected.append((number, row))
        elif review:
            problems.append(f"{where}:{number}:review: write accept, reject, or leave it empty (not {review!r})")
        else:
            plan.kept.append(row)
    return plan


def stage(plan: TargetPlan, today: dt.date, problems: list[str]) -> None:
    """The target file's text with the accepted rows applied, and which staged row came from which inbox row."""
    resource, where = plan.resource, _display(plan.inbox_path)
    plan.original = resource.path.read_bytes()
    records = split_records(plan.original.decode("utf-8-sig"))
    header = [h.strip() for h in parse_record(records[0])] if records else resource.field_names
    eol = line_ending(records[0]) if records else "\n"
    if records and not records[-1].endswith(("\n", "\r")):
        records[-1] += eol
    pk = resource.schema.get("primaryKey") or []
    pk = pk if isinstance(pk, list) else [pk]
    existing = {}
    for index, record in enumerate(records[1:], 1):
        cells = parse_record(record)
        row = dict(zip(header, cells, strict=False))
        existing[tuple(row.get(k, "") for k in pk)] = (index, row)
    integer_pk = len(pk) == 1 and resource.field(pk[0]).get("type") == "integer"
    next_id = 1 + max((int(k[0]) for k in existing if k and k[0].strip().isdigit()), default=0)
    dated = "last_verified" in header and "review_due" in header
    for number, row in plan.accepted:
        values = {c: (row.get(c) or "") for c in header}
        key = tuple(values.get(k, "") for k in pk)
        if row.get("proposed_action") == "add":
            if integer_pk and not values[pk[0]].strip():
                values[pk[0]] = str(next_id)
                next_id += 1
            if dated:
                values["last_verified"] = values["last_verified"] or today.isoformat()
                values["review_due"] = values["review_due"] or review_due(resource.name, values, today)
            records.append(format_record([values[c] for c in header], eol))
            plan.row_origin[len(records)] = number
            plan.changes.append(f"add {', '.join(values[k] for k in pk)}")
            continue
        if key not in existing:
            problems.append(f"{where}:{number}:{pk[0] if pk else '-'}: no row with {', '.join(key)} in "
                            f"{resource.display_path} to update")
            continue
        index, old = existing[key]
        if dated:
            if values["last_verified"] in ("", old.get("last_verified", "")):
                values["last_verified"] = today.isoformat()
            if values["review_due"] in ("", old.get("review_due", "")):
                values["review_due"] = review_due(resource.name, values, today)
        records[index] = format_record([values[c] for c in header], eol)
        plan.row_origin[index + 1] = number
        changed = [f"{c}: {old.get(c, '') or '(empty)'} -> {values[c] or '(empty)'}"
                   for c in header if old.get(c, "") != values[c]]
        plan.changes.append(f"update {', '.join(key)}: " + ("; ".join(changed) or "no change"))
    plan.staged_text = "".join(records)


def _locked(path: Path):
    """Hold the lock file beside a data file (data/<file>.lock, where the project's editors keep one) while writing."""
    lock = Path(f"{path}.lock")
    if not lock.exists():
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def hold():
        with lock.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return hold()


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    os.replace(tmp, path)


def accept(data: Path, inbox: Path, today: dt.date, out=sys.stdout) -> int:
    try:
        package = load_package(data)
    except PackageError as exc:
        print(exc, file=sys.stderr)
        return 1
    problems: list[str] = []
    plans = [plan_target(package.resources[t], inbox / f"{t}.csv", problems)
             for t in TARGETS if (inbox / f"{t}.csv").exists() and t in package.resources]
    marked = [p for p in plans if p.accepted or p.rejected]
    if not problems and not marked:
        print(f"nothing to accept: no row in {_display(inbox)}/*.csv has accept or reject in its review column",
              file=out)
        return 0
    for plan in plans:
        if plan.accepted and not problems:
            stage(plan, today, problems)
    if not problems and any(p.accepted for p in plans):
        problems = check_staged(data, plans, today)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"accept refused: {len(problems)} problem(s); data/ and the inbox were not changed", file=sys.stderr)
        return 1

    for plan in plans:
        if not plan.accepted:
            continue
        with _locked(plan.resource.path):
            if plan.resource.path.read_bytes() != plan.original:
                print(f"{plan.resource.display_path} changed while accepting; nothing was written: run make accept "
                      "again", file=sys.stderr)
                return 1
            _replace(plan.resource.path, plan.staged_text)
    ledger_fields, ledger = read_csv_rows(inbox / REJECTED)
    for plan in marked:
        target = plan.resource.name
        ledger += [{"target": target, "ocid": r.get("ocid", ""), "release_id": r.get("release_id", ""),
                    "key": proposal_key(target, r), "rejected_on": today.isoformat(), "reason": r.get("reason", "")}
                   for _, r in plan.rejected]
        if plan.kept:
            write_csv(plan.inbox_path, plan.inbox_fields or inbox_columns(plan.resource.field_names), plan.kept)
        else:
            plan.inbox_path.unlink()
    if any(p.rejected for p in marked):
        write_csv(inbox / REJECTED, ledger_fields or list(REJECTED_COLUMNS), ledger)
    for plan in marked:
        print(f"{plan.resource.display_path}: accepted {len(plan.accepted)}, rejected {len(plan.rejected)}, "
              f"{len(plan.kept)} left in {_display(plan.inbox_path)}", file=out)
        for change in plan.changes:
            print(f"  {change}", file=out)
    print("next: make build && make test, then commit data/ with a message naming the notices", file=out)
    return 0


def check_staged(data: Path, plans: list[TargetPlan], today: dt.date) -> list[str]:
    """Build a copy of data/ with the accepted rows, as the build does; problems in accepted rows name the inbox."""
    with tempfile.TemporaryDirectory(prefix="accept-") as tmp:
        staged = Path(tmp) / data.resolve().name
        inbox_dirs = {p.inbox_path.parent.resolve() for p in plans}
        shutil.copytree(data, staged, ignore=lambda d, names: [n for n in names if (Path(d) / n).resolve()
                                                               in inbox_dirs])
        origins = {}
        for plan in plans:
            if not plan.accepted:
                continue
            relative = plan.resource.path.resolve().relative_to(data.resolve())
            (staged / relative).write_bytes(plan.staged_text.encode("utf-8"))
            origins[plan.resource.display_path] = plan
        log = io.StringIO()
        try:
            with contextlib.redirect_stderr(log):
                build_database(staged, Path(tmp) / "check.db", today)
        except BuildFailed as failure:
            messages = []
            for problem in failure.problems:
                plan = origins.get(problem.path)
                number = plan.row_origin.get(problem.row) if plan else None
                if number is not None:
                    messages.append(f"{_display(plan.inbox_path)}:{number}:{problem.column}: {problem.reason} "
                                    f"(as {problem.path}:{problem.row})")
                else:
                    messages.append(f"{problem} (already in data/, not from the inbox)")
            return messages
        except Exception as exc:  # noqa: BLE001 - any failure of the build refuses the accept
            return [f"{data}: the build of data/ with the accepted rows failed: {type(exc).__name__}: {exc}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="data package folder (default: data)")
    parser.add_argument("--inbox", type=Path, help="inbox folder (default: DATA/inbox)")
    parser.add_argument("--today", type=dt.date.fromisoformat,
                        default=dt.date.fromisoformat(os.environ["BUILD_DATE"]) if os.environ.get("BUILD_DATE")
                        else dt.date.today(), help="date of the review (default: $BUILD_DATE or today)")
    args = parser.parse_args(argv)
    return accept(args.data, args.inbox or args.data / "inbox", args.today)


if __name__ == "__main__":
    sys.exit(main())
