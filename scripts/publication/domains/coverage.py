"""What the publication holds, per kind of fact, and what is known to be missing (issue 13): `publication_coverage`.

Every count is taken from the built tables at build time, never typed in. `expected` is the number a complete
record would hold where that number is knowable from the record itself (for example 32 boroughs times the LCPF
years the record shows); it is empty where no one can know it (how many decisions MOPAC has made).
"""

from __future__ import annotations

FACTS = [
    # (section, fact, held SQL, expected SQL or None, table, what is missing when held < expected)
    ("Funding decisions", "Funding-decision rows (one per recipient and year where the source splits it)",
     "SELECT count(*) FROM funding_decisions", None, "funding_decisions",
     "Decisions whose annexes are not public (several name 'various' recipients)."),
    ("Funding decisions", "Distinct decision references",
     "SELECT count(DISTINCT reference) FROM funding_decisions", None, "funding_decisions", ""),
    ("Funding decisions", "Rows with a stated amount",
     "SELECT count(*) FROM funding_decisions WHERE amount_gbp IS NOT NULL",
     "SELECT count(*) FROM funding_decisions", "funding_decisions",
     "Rows whose source states no single amount for the recipient."),
    ("Funding decisions", "Rows whose recipient is a linked organisation or a borough",
     "SELECT count(*) FROM funding_decisions WHERE recipient_organization_id IS NOT NULL OR gss_code IS NOT NULL",
     "SELECT count(*) FROM funding_decisions", "funding_decisions",
     "Recipients that are unnamed ('various'), or a programme budget rather than a recipient."),
    ("Services", "Commissioned services", "SELECT count(*) FROM services", None, "services", ""),
    ("Services", "Services with a named provider",
     "SELECT count(*) FROM services WHERE organization_id IS NOT NULL", "SELECT count(*) FROM services", "services",
     "Providers the sources do not name (often contracts awarded after the last public decision)."),
    ("Services", "Services with a stated start and end date",
     "SELECT count(*) FROM services WHERE start_date IS NOT NULL AND end_date IS NOT NULL",
     "SELECT count(*) FROM services", "services", "Dates the sources do not state."),
    ("Services", "Services with a stated value (annual or total)",
     "SELECT count(*) FROM services WHERE annual_value_gbp IS NOT NULL OR total_value_gbp IS NOT NULL",
     "SELECT count(*) FROM services", "services", "Values the sources do not state."),
    ("Services", "Services that name the boroughs they cover (or cover all of London)",
     "SELECT count(*) FROM services WHERE borough_count > 0", "SELECT count(*) FROM services", "services",
     "Services said to work in 'some boroughs' without naming them."),
    ("Services", "Services with a public delivery point on the map",
     "SELECT count(*) FROM services WHERE delivery_point_count > 0", "SELECT count(*) FROM services", "services",
     "Addresses of delivery points are rarely public (and refuges must never be)."),
    ("Funding opportunities", "Funding opportunities (tenders, grant calls, engagement, planned procurements)",
     "SELECT count(*) FROM funding_opportunities", None, "funding_opportunities", ""),
    ("Funding opportunities", "Open or upcoming at the build date",
     "SELECT count(*) FROM funding_opportunities WHERE status IN ('open', 'closing within 14 days', 'planned')",
     None, "funding_opportunities", ""),
    ("Performance", "Commissioned services with at least one published performance measure",
     "SELECT count(DISTINCT service_id) FROM measures", "SELECT count(*) FROM services", "measures",
     "MOPAC has not published per-service measures or RAG ratings."),
    ("Performance", "Published RAG ratings", "SELECT count(*) FROM ratings", None, "ratings",
     "No six-monthly rating is public yet."),
    ("VRU", "Published reach figures (people engaged, referrals, completions)",
     "SELECT count(*) FROM vru_reach", None, "vru_reach", "Most programmes publish no reach figure."),
    ("VRU", "Published KPI and outcome figures", "SELECT count(*) FROM vru_kpis", None, "vru_kpis", ""),
    ("VRU", "VRU programmes with a published cost-benefit analysis",
     "SELECT count(DISTINCT programme) FROM cost_benefit", "SELECT count(*) FROM vru_programmes", "cost_benefit",
     "No programme's cost-benefit analysis is public, DIVERT included."),
    ("LCPF", "Per-borough LCPF allocations (32 boroughs times the years the record shows)",
     "SELECT count(*) FROM (SELECT DISTINCT financial_year, gss_code FROM lcpf_allocations)",
     """SELECT 32 * count(*) FROM (
          SELECT financial_year AS y FROM lcpf_allocations
          UNION SELECT financial_years FROM lcpf_funding
          WHERE financial_years GLOB '[0-9][0-9][0-9][0-9]/[0-9][0-9]')""",
     "lcpf_allocations", "MOPAC's borough allocation appendices (PCD 79, PCD 421 and later) are not public."),
    ("LCPF", "Records of the LCPF formula consultation", "SELECT count(*) FROM lcpf_consultation", None,
     "lcpf_consultation", "The consultation and the options explored are not published."),
    ("LCPF", "Formula options explored", "SELECT count(*) FROM lcpf_formula_options", None, "lcpf_formula_options",
     ""),
    ("Providers", "Providers with a charity or company number",
     "SELECT count(*) FROM organizations WHERE charity_number IS NOT NULL OR company_number IS NOT NULL",
     "SELECT count(*) FROM organizations", "organizations",
     "Registration numbers are added only where a source states them."),
    ("Providers", "Public contact points of services", "SELECT count(*) FROM service_contacts", None,
     "service_contacts", "MOPAC has not published service contacts."),
]

COVERAGE_TABLE = """
CREATE TABLE publication_coverage (
  position INTEGER PRIMARY KEY,
  section TEXT NOT NULL,
  fact TEXT NOT NULL,
  held INTEGER NOT NULL,
  expected INTEGER,
  missing INTEGER,
  share_held REAL,
  what_is_missing TEXT,
  table_name TEXT NOT NULL
)
"""


def coverage_rows(conn) -> list[dict]:
    rows = []
    for position, (section, fact, held_sql, expected_sql, table, missing_text) in enumerate(FACTS, start=1):
        (held,) = conn.execute(held_sql).fetchone()
        expected = conn.execute(expected_sql).fetchone()[0] if expected_sql else None
        missing = max(expected - held, 0) if expected is not None else None
        rows.append({
            "position": position, "section": section, "fact": fact, "held": held, "expected": expected,
            "missing": missing, "share_held": round(held / expected, 3) if expected else None,
            "what_is_missing": missing_text if (missing or (expected is None and not held)) else "",
            "table_name": table,
        })
    return rows


def derive(db, context) -> None:
    db.execute(COVERAGE_TABLE)
    rows = coverage_rows(db.conn)
    db.conn.executemany(
        "INSERT INTO publication_coverage VALUES (:position, :section, :fact, :held, :expected, :missing, "
        ":share_held, :what_is_missing, :table_name)", rows)
