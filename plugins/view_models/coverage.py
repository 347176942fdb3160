"""The /coverage page: what the publication holds per kind of fact and what is known to be missing, read from the
`publication_coverage` table the build counts."""

from __future__ import annotations


def coverage_sections(conn) -> list[dict]:
    """The coverage rows grouped by section, in the build's order."""
    cursor = conn.execute("SELECT * FROM publication_coverage ORDER BY position")
    keys = [d[0] for d in cursor.description]
    sections: dict[str, dict] = {}
    for values in cursor.fetchall():
        row = dict(zip(keys, values, strict=True))
        row["held_text"] = f"{row['held']:,}" + (f" of {row['expected']:,}" if row["expected"] is not None else "")
        sections.setdefault(row["section"], {"section": row["section"], "rows": []})["rows"].append(row)
    return list(sections.values())
