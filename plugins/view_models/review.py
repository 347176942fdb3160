"""The /review-due page and `make review`: what a curator must look at again, from the views the build makes
(scripts/publication/domains/review.py). The lists are worked out on the day they are read (the views use
date('now')), not frozen at the build date."""

from __future__ import annotations

LISTS = [
    ("records_due_for_review", "Records past their review date",
     "Services and funding opportunities whose review_due date has passed: check each against its source, then "
     "update last_verified and review_due."),
    ("opportunities_status_out_of_date", "Opportunities past their closing date whose status says otherwise",
     "The closing date has passed, but the status shown (derived when the database was built) or the status the "
     "source recorded still says open or upcoming."),
    ("sources_cited_by_nothing", "Sources cited by nothing",
     "Sources that data/datapackage.json lists for a table of transcribed rows, that no row of the table cites."),
]


def review_lists(conn) -> list[dict]:
    out = []
    for table, title, explanation in LISTS:
        cursor = conn.execute(f"SELECT * FROM [{table}]")
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        out.append({"table": table, "title": title, "explanation": explanation, "columns": columns, "rows": rows})
    return out


def as_text(lists: list[dict]) -> str:
    """The same lists for a curator's terminal."""
    lines = []
    for found in lists:
        lines.append(f"{found['title']}: {len(found['rows'])}")
        for row in found["rows"]:
            lines.append("  " + " | ".join("" if v is None else str(v) for v in row.values()))
    return "\n".join(lines) + "\n"
