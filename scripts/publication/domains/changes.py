"""The change history of services, opportunities and funding decisions (issues 8 and 14), from durable history.

The `changes` table is computed from the git history of the published CSV files (scripts/publication/history.py):
each commit that touched a tracked file is compared with the one before it, key by key, with csv-diff:

- `added` / `removed`: one row per service, opportunity or decision row, `field` empty;
- `changed`: one row per changed field, with the old and the new value as written in the CSV.

Each change names the commit and its date (`changed_on`) and the source the row cited in that version, so a record's
page can say when each field changed and which source said so. Boroughs named in the link files
(service_boroughs.csv, opportunity_boroughs.csv) count as one more field, `boroughs`. Changes not yet committed
appear under the commit `working tree`, dated with the build date. The history depends on the commits alone: two
clones of the same commit, and a build after `make clean`, publish the same table (nothing is read from build/).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from operator import itemgetter

from .. import history


@dataclass(frozen=True)
class Tracked:
    entity: str  # service | opportunity | decision
    table: str  # the resource (and table) name
    key: str
    label: str  # the column shown as entity_name
    areas: str | None  # a link resource (key, gss_code) whose boroughs count as the field `boroughs`


TRACKED = [
    Tracked("service", "services", "service_id", "name", "service_boroughs"),
    Tracked("opportunity", "funding_opportunities", "reference", "title", "opportunity_boroughs"),
    Tracked("decision", "funding_decisions", "record_id", "item", None),
]
AREAS_FIELD = "boroughs"
COLUMNS = {
    "change_id": int,
    "changed_on": str,
    "git_commit": str,
    "entity": str,
    "entity_id": str,
    "entity_name": str,
    "change": str,
    "field": str,
    "old_value": str,
    "new_value": str,
    "source_title": str,
    "source_url": str,
}


def _blank(value):
    return value if value not in ("", None) else None


def version_changes(tracked: Tracked, before: dict, after: dict, areas_before: dict, areas_after: dict) -> list[dict]:
    """Added, removed and field-level changed rows between two versions, in a stable order. A column that exists on
    only one side (added to or dropped from the schema) is not a change until it holds a value."""
    found = history.compare(before, after)
    rows = []

    def row(key, values, change, field=None, old=None, new=None):
        rows.append({
            "entity": tracked.entity, "entity_id": str(key), "entity_name": values.get(tracked.label),
            "change": change, "field": field, "old_value": _blank(old), "new_value": _blank(new),
            "source_title": values.get("source_title"), "source_url": values.get("source_url"),
        })

    for values in found["added"]:
        row(values[tracked.key], values, "added")
    for values in found["removed"]:
        row(values[tracked.key], values, "removed")
    for item in found["changed"]:
        values = after[item["key"]]
        for field, (old, new) in sorted(item["changes"].items()):
            if _blank(old) != _blank(new):
                row(item["key"], values, "changed", field, old, new)
    for key in sorted(set(before) & set(after)):
        if areas_before.get(key) != areas_after.get(key):
            row(key, after[key], "changed", AREAS_FIELD, areas_before.get(key), areas_after.get(key))
    rows.sort(key=lambda r: (r["entity_id"], r["change"] != "added", r["field"] or ""))
    return rows


def tracked_history(tracked: Tracked, package, today: str) -> list[dict]:
    resource = package.resources.get(tracked.table)
    if resource is None:
        return []
    link = package.resources.get(tracked.areas) if tracked.areas else None
    paths = [resource.path] + ([link.path] if link is not None else [])
    out = []
    before, areas_before = {}, {}
    for commit, day, texts in history.versions_together(paths):
        after = history.rows_by_key(texts[resource.path.resolve()], tracked.key)
        areas_after = history.grouped(texts[link.path.resolve()], tracked.key, "gss_code") if link else {}
        for change in version_changes(tracked, before, after, areas_before, areas_after):
            out.append({"changed_on": day or today, "git_commit": commit, **change})
        before, areas_before = after, areas_after
    return out


def compute_changes(package, today: str) -> list[dict]:
    rows = [r for tracked in TRACKED for r in tracked_history(tracked, package, today)]
    rows.sort(key=itemgetter("changed_on"))  # stable: each entity's own order is kept within a day
    for number, change in enumerate(rows, start=1):
        change["change_id"] = number
    return rows


def derive(db, context) -> None:
    rows = compute_changes(context.package, context.today.isoformat())
    required = {"changed_on", "git_commit", "entity", "entity_id", "change"}
    db["changes"].create(COLUMNS, pk="change_id", not_null=required)
    db.conn.executemany(
        f"INSERT INTO changes ({', '.join(f'[{c}]' for c in COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        map(itemgetter(*COLUMNS), rows),
    )
    for columns in (["changed_on"], ["entity", "entity_id"], ["change"]):
        db["changes"].create_index(columns)
    date_opportunities(db)


def date_opportunities(db) -> None:
    """first_seen_on (the latest time it was added) and last_changed_on of each opportunity, from the history, for
    the opportunities Atom feed."""
    if "funding_opportunities" not in db.table_names():
        return
    for column in ("first_seen_on", "last_changed_on"):
        db["funding_opportunities"].add_column(column, str)
    db.execute("""
        UPDATE funding_opportunities SET
          first_seen_on = (SELECT max(changed_on) FROM changes c WHERE c.entity = 'opportunity'
                           AND c.entity_id = funding_opportunities.reference AND c.change = 'added'),
          last_changed_on = (SELECT max(changed_on) FROM changes c WHERE c.entity = 'opportunity'
                             AND c.entity_id = funding_opportunities.reference)""")


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]


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
