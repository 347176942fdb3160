"""Change log between published builds (issue 8).

Each build compares the services and opportunities it is about to publish with those in the database it replaces
(`context.previous_db`) and appends what changed to a `changes` table, which is carried forward from build to build:

- `added` / `removed`: one row per service or opportunity, `field` empty;
- `changed`: one row per changed field, with the old and the new value as text.

The first build (no previous database, or one from before the change log existed) records everything as added.
Nothing changes when the data does not change, so rebuilding the same data twice gives the same table. Only the
columns of the source CSV files are compared (derived columns depend on the build date), plus one derived list per
entity: the GSS codes of the boroughs it covers, because that is what a borough directory needs to know.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path


@dataclass(frozen=True)
class Tracked:
    entity: str  # service | opportunity
    table: str
    key: str
    label: str  # the column shown as entity_name
    areas_table: str  # (key, gss_code) rows: the boroughs covered, compared as the pseudo-field `boroughs`


TRACKED = [
    Tracked("service", "services", "service_id", "name", "service_areas"),
    Tracked("opportunity", "funding_opportunities", "reference", "title", "opportunity_eligible_boroughs"),
]
AREAS_FIELD = "boroughs"
COLUMNS = {
    "change_id": int,
    "build_date": str,
    "entity": str,
    "entity_id": str,
    "entity_name": str,
    "change": str,
    "field": str,
    "old_value": str,
    "new_value": str,
}


def as_text(value) -> str | None:
    """Values compared and stored as text; 1500.0 and 1500 read the same."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]


def _texts(row) -> list[str | None]:
    """as_text() of each value, called only for what is not already text or NULL (most values are text)."""
    return [v if v is None or v.__class__ is str else as_text(v) for v in row]


def snapshot(
    conn: sqlite3.Connection, tracked: Tracked, fields: list[str], with_areas: bool = True
) -> dict[str, dict[str, str | None]]:
    """{entity id: {field: text}} for the fields that exist in this database (a missing table gives {}), with the
    boroughs covered (AREAS_FIELD) unless with_areas is false."""
    columns = table_columns(conn, tracked.table)
    if tracked.key not in columns:
        return {}
    present = [f for f in fields if f in columns]
    rows = conn.execute(
        f"SELECT {', '.join(f'[{c}]' for c in present)} FROM [{tracked.table}] ORDER BY [{tracked.key}]"
    ).fetchall()
    at = present.index(tracked.key)
    result = {str(row[at]): dict(zip(present, _texts(row), strict=True)) for row in rows}
    area_columns = table_columns(conn, tracked.areas_table) if with_areas else []
    if tracked.key in area_columns and "gss_code" in area_columns:
        cursor = conn.execute(
            f"SELECT [{tracked.key}], gss_code FROM [{tracked.areas_table}] ORDER BY [{tracked.key}], gss_code"
        )
        areas: dict[str, str] = {}
        for key, group in groupby(cursor, itemgetter(0)):
            text = ";".join(map(itemgetter(1), group))
            areas[str(key)] = f"{areas[str(key)]};{text}" if str(key) in areas else text
        for key, values in result.items():
            values[AREAS_FIELD] = areas.get(key) or None
    return result


def diff(entity: str, label: str, old: dict, new: dict) -> list[dict]:
    """Added, removed and field-level changed rows between two snapshots, in a stable order.

    A field present on only one side (a column added to or dropped from the schema) is not reported as a change.
    """
    rows = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before is None:
            rows.append(_row(entity, key, after.get(label), "added"))
        elif after is None:
            rows.append(_row(entity, key, before.get(label), "removed"))
        elif before != after:
            for field in sorted(set(before) & set(after)):
                if before[field] != after[field]:
                    rows.append(_row(entity, key, after.get(label), "changed", field, before[field], after[field]))
    return rows


def _row(entity, key, name, change, field=None, old_value=None, new_value=None) -> dict:
    return {
        "entity": entity,
        "entity_id": key,
        "entity_name": name,
        "change": change,
        "field": field,
        "old_value": old_value,
        "new_value": new_value,
    }


def previous_history(previous: sqlite3.Connection | None) -> list[dict]:
    if previous is None or set(COLUMNS) - set(table_columns(previous, "changes")):
        return []
    cursor = previous.execute(f"SELECT {', '.join(COLUMNS)} FROM changes ORDER BY change_id")
    return [dict(zip(COLUMNS, row, strict=True)) for row in cursor]


def open_previous(path: Path | None) -> sqlite3.Connection | None:
    if path is None or not Path(path).exists():
        return None
    return sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)


def compute_changes(new: sqlite3.Connection, previous: sqlite3.Connection | None, fields_for) -> list[dict]:
    """All rows of the new `changes` table (history first, then this build's), without build_date/change_id set
    for the new ones. `fields_for(tracked)` names the columns compared."""
    found = []
    for tracked in TRACKED:
        fields = fields_for(tracked)
        if tracked.key not in fields:
            fields = [tracked.key, *fields]
        before = snapshot(previous, tracked, fields) if previous is not None else {}
        if not before:  # everything is added: only the key and the label are needed
            fields = [f for f in fields if f in (tracked.key, tracked.label)]
        current = snapshot(new, tracked, fields, with_areas=bool(before))
        found += diff(tracked.entity, tracked.label, before, current)
    return found


def derive(db, context) -> None:
    def fields_for(tracked: Tracked) -> list[str]:
        resource = context.package.resources.get(tracked.table)
        return resource.field_names if resource is not None else table_columns(db.conn, tracked.table)

    previous = open_previous(context.previous_db)
    if previous is not None and set(COLUMNS) - set(table_columns(previous, "changes")):
        previous.close()  # a database from before the change log: the log starts here, as on a first build
        previous = None
    try:
        history = previous_history(previous)
        new_rows = compute_changes(db.conn, previous, fields_for)
    finally:
        if previous is not None:
            previous.close()
    next_id = max((row["change_id"] for row in history), default=0) + 1
    for offset, row in enumerate(new_rows):
        row["change_id"] = next_id + offset
        row["build_date"] = context.today.isoformat()
    db["changes"].create(COLUMNS, pk="change_id", not_null={"build_date", "entity", "entity_id", "change"})
    db.conn.executemany(
        f"INSERT INTO changes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        map(itemgetter(*COLUMNS), history + new_rows),
    )
    for columns in (["build_date"], ["entity", "entity_id"], ["change"]):
        db["changes"].create_index(columns)


def synthesize(rng, size, context) -> dict:
    """Synthetic public contact points (service_contacts, the Open Referral contacts of issue 8) for about a third of
    the synthetic services. Phone numbers are in Ofcom's range reserved for drama (020 7946 0000 to 0999) and emails
    use example.org, so none can reach a real person."""
    services = context.produced.get("services", [])
    contacts = []
    for service in services:
        if rng.random() >= 1 / 3:
            continue
        number = len(contacts) + 1
        contacts.append({
            "contact_id": f"synthetic-contact-{number:05d}",
            "service_id": service["service_id"],
            "name": f"Synthetic referral team {number:05d}",
            "title": "Referrals",
            "department": None,
            "email": f"referrals-{number:05d}@example.org",
            "phone": f"020 7946 0{rng.randrange(1000):03d}",
            "source_title": "scripts/generate_synthetic.py (synthetic)",
            "source_url": "https://example.org/synthetic",
        })
    return {"service_contacts": contacts}


def check(db, context=None) -> list:
    from ..package import Problem

    problems = []
    bad = db.execute(
        "SELECT change_id FROM changes WHERE change NOT IN ('added', 'removed', 'changed') "
        "OR (change = 'changed') != (field IS NOT NULL) ORDER BY change_id LIMIT 5"
    ).fetchall()
    for (change_id,) in bad:
        problems.append(Problem("changes", change_id, "change", "malformed change-log row"))
    # Every published service and opportunity was last recorded as added, not removed (so each has a last_modified).
    for tracked in TRACKED:
        if tracked.key not in table_columns(db.conn, tracked.table):
            continue
        missing = db.execute(
            f"SELECT t.[{tracked.key}] FROM [{tracked.table}] t WHERE coalesce((SELECT c.change FROM changes c "
            f"WHERE c.entity = ? AND c.entity_id = t.[{tracked.key}] AND c.change IN ('added', 'removed') "
            f"ORDER BY c.change_id DESC LIMIT 1), 'none') != 'added' LIMIT 5",
            [tracked.entity],
        ).fetchall()
        for (key,) in missing:
            problems.append(Problem("changes", 0, "entity_id", f"{tracked.entity} {key} has no 'added' entry"))
    return problems
