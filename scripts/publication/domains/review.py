"""What a curator must look at again (issue 14): records past their review date, opportunities whose status is out
of date, and sources a table lists that none of its rows cites.

The first two are views over date('now'), so the public /review-due page and `make review` are current on the day
they are read, not frozen at the build date. The third depends only on data/ and is a table made at build.
"""

from __future__ import annotations

DUE_VIEW = """
CREATE VIEW records_due_for_review AS
SELECT 'service' AS kind, service_id AS record_id, name AS title, last_verified, review_due,
  CAST(julianday(date('now')) - julianday(review_due) AS INTEGER) AS days_overdue, source_title, source_url
FROM services WHERE review_due < date('now')
UNION ALL
SELECT 'opportunity', reference, title, last_verified, review_due,
  CAST(julianday(date('now')) - julianday(review_due) AS INTEGER), source_title, source_url
FROM funding_opportunities WHERE review_due < date('now')
ORDER BY days_overdue DESC, kind, record_id
"""

# The status is derived from the dates at build time; on a later day an opportunity can have closed since. And
# status_as_recorded is the source's own word, which can say "open" after the closing date.
STALE_STATUS_VIEW = """
CREATE VIEW opportunities_status_out_of_date AS
SELECT reference, title, closing_date, status, status_as_recorded,
  CASE WHEN status != 'closed' THEN 'closed on ' || closing_date || ' but the build (on ' ||
         (SELECT value FROM build_info WHERE key = 'build_date') || ') shows it as ' || status
       ELSE 'closed on ' || closing_date || ' but the recorded status says: ' || status_as_recorded END AS problem,
  source_url
FROM funding_opportunities
WHERE closing_date < date('now')
  AND (status != 'closed'
       OR (lower(status_as_recorded) LIKE '%open%' AND lower(status_as_recorded) NOT LIKE '%closed%'))
ORDER BY closing_date
"""

UNCITED_TABLE = """
CREATE TABLE sources_cited_by_nothing (
  resource TEXT NOT NULL,
  source_title TEXT,
  source_url TEXT NOT NULL,
  PRIMARY KEY (resource, source_url)
)
"""


def uncited_sources(db, package) -> list[dict]:
    """Sources data/datapackage.json lists for a table of transcribed rows (one with a source_url column) that no
    row of that table cites."""
    found = []
    for name, resource in package.resources.items():
        if "source_url" not in resource.field_names:
            continue
        cited = {url for (url,) in db.execute(f"SELECT DISTINCT source_url FROM [{name}]")}
        for source in resource.descriptor.get("sources") or []:
            url = source.get("path") or ""
            if url.startswith(("http://", "https://")) and url not in cited:
                found.append({"resource": name, "source_title": source.get("title"), "source_url": url})
    return found


def derive(db, context) -> None:
    db.execute(DUE_VIEW)
    db.execute(STALE_STATUS_VIEW)
    db.execute(UNCITED_TABLE)
    rows = {(r["resource"], r["source_url"]): r for r in uncited_sources(db, context.package)}
    db.conn.executemany(
        "INSERT INTO sources_cited_by_nothing VALUES (:resource, :source_title, :source_url)", rows.values())
