"""Who gets the money, for which service, in which year (issue 17): the links behind the service, provider and
decision pages, made from identifiers only, never from matching names or descriptions.

- Rule: a decision whose `recipient` is the name of an organisation in organizations.csv (trimmed, case-folded)
  must name that organisation in `recipient_organization_id`; otherwise money a provider received would be missing
  from its page and from every total by recipient.
- `funding_decisions` gains the financial years its money is for, read from the stated `financial_years`
  (scripts/common/funding.py): `financial_year` ('2020/21', or '2019/20 to 2021/22' for an amount over several years,
  which is not divided), `financial_year_start`, `financial_years_count`.
- `service_funding`: one row per service and funding decision it cites, from its `funding_record_ids` (a decision
  row: cited_as 'record') and its `decision_refs` (a decision reference none of whose rows it cites: 'reference').
- `service_notices`: one row per service and funding opportunity (notice) whose reference or OCID the service's
  `decision_refs` cite.
- Synthetic demo: synthetic decisions are given to the synthetic providers of the services they fund, some notices
  are cited by the services they re-commission, and some services name partners (service_partners).
"""

from __future__ import annotations

import random

from scripts.common.funding import (
    cited_identifiers,
    name_key,
    parse_financial_years,
    record_ids,
    split_references,
    year_group,
)

from ..package import Problem

DECISION_YEAR_COLUMNS = {"financial_year": str, "financial_year_start": int, "financial_years_count": int}
SYNTHETIC_SOURCE = "Synthetic data (scripts/generate_synthetic.py)"
SYNTHETIC_URL = "https://example.org/synthetic"


# ---- validation -------------------------------------------------------------------------------------------------


def check_recipients_linked(tables) -> list[Problem]:
    """A decision whose recipient is a known organisation's name names that organisation by its identifier."""
    decisions, organizations = tables.get("funding_decisions"), tables.get("organizations")
    if decisions is None or organizations is None or not decisions.readable or not organizations.readable:
        return []
    if "recipient_organization_id" in decisions.absent or "recipient" in decisions.absent:
        return []
    known: dict[str, list[str]] = {}
    for _, organization_id, name in organizations.select("organization_id", "name"):
        if organization_id and name_key(name):
            known.setdefault(name_key(name), []).append(organization_id)
    where = decisions.resource.display_path
    problems = []
    for row_number, recipient, linked in decisions.select("recipient", "recipient_organization_id"):
        ids = known.get(name_key(recipient))
        if not ids or linked in ids:
            continue
        expected = " or ".join(repr(i) for i in sorted(ids))
        found = "is empty" if not linked else f"is {linked!r}"
        problems.append(Problem(where, row_number, "recipient_organization_id", (
            f"recipient {recipient.strip()!r} is the organisation {expected} in "
            f"{organizations.resource.display_path}, but recipient_organization_id {found}: link the decision to "
            "its recipient by identifier"
        )))
    return problems


RULES: list = [check_recipients_linked]


# ---- derived columns and tables ---------------------------------------------------------------------------------


def derive(db, context) -> None:
    conn = db.conn
    for name, kind in DECISION_YEAR_COLUMNS.items():
        db["funding_decisions"].add_column(name, kind)
    updates = []
    for record_id, stated in conn.execute("SELECT record_id, financial_years FROM funding_decisions"):
        years = parse_financial_years(stated)
        if years:
            updates.append((year_group(years), years[0], years[1] - years[0] + 1, record_id))
    conn.executemany("UPDATE funding_decisions SET financial_year = ?, financial_year_start = ?, "
                     "financial_years_count = ? WHERE record_id = ?", updates)
    db["funding_decisions"].create_index(["recipient_organization_id", "financial_year_start"], if_not_exists=True)

    reference_of = dict(conn.execute("SELECT record_id, reference FROM funding_decisions"))
    references = set(reference_of.values())
    notices: dict[str, str] = {}  # identifier cited -> opportunity reference
    for reference, ocid in conn.execute("SELECT reference, ocid FROM funding_opportunities"):
        notices.setdefault(reference, reference)
        if ocid:
            notices.setdefault(ocid, reference)
    funding, cited_notices = [], []
    for service_id, refs_text, ids_text in conn.execute(
            "SELECT service_id, decision_refs, funding_record_ids FROM services ORDER BY rowid"):
        cited_records = [r for r in record_ids(ids_text) if r in reference_of]
        by_record = {reference_of[r] for r in cited_records}
        funding += [(service_id, reference_of[r], r, "record") for r in cited_records]
        refs = split_references(refs_text)
        funding += [(service_id, ref, None, "reference") for ref in refs if ref in references and ref not in by_record]
        found = {}
        for ref in refs:
            for identifier in sorted(cited_identifiers(ref)):
                if identifier in notices:
                    found.setdefault(notices[identifier], (ref, identifier))
        cited_notices += [(service_id, notice, ref, identifier) for notice, (ref, identifier) in found.items()]

    db["service_funding"].create(
        {"service_id": str, "reference": str, "record_id": int, "cited_as": str},
        foreign_keys=[("service_id", "services", "service_id"), ("record_id", "funding_decisions", "record_id")],
        not_null={"service_id", "reference", "cited_as"},
    )
    conn.executemany("INSERT INTO service_funding VALUES (?, ?, ?, ?)", funding)
    for columns in (["service_id"], ["reference"], ["record_id"]):
        db["service_funding"].create_index(columns)

    db["service_notices"].create(
        {"service_id": str, "reference": str, "cited_reference": str, "matched_identifier": str},
        foreign_keys=[("service_id", "services", "service_id"), ("reference", "funding_opportunities", "reference")],
        not_null={"service_id", "reference", "cited_reference", "matched_identifier"},
    )
    conn.executemany("INSERT INTO service_notices VALUES (?, ?, ?, ?)", cited_notices)
    db["service_notices"].create_index(["service_id", "reference"], unique=True)
    db["service_notices"].create_index(["reference"])


# ---- synthetic demo ---------------------------------------------------------------------------------------------


def synthesize(rng, size, context) -> dict:
    """Link the synthetic rows earlier domains made, in place (as provenance fills excerpts): most decisions fund one
    or two synthetic services and name the provider of the first, by name and identifier; about one notice in four
    is cited by a service it re-commissions; about one service in six names one or two partners. Uses its own random
    stream, so the rows later domains draw do not change."""
    del rng
    own = random.Random(f"funding-links-{size}")
    services = context.produced.get("services", [])
    decisions = context.produced.get("funding_decisions", [])
    organizations = {o["organization_id"]: o for o in context.produced.get("organizations", [])}
    opportunities = context.produced.get("funding_opportunities", [])
    with_provider = [s for s in services if s.get("organization_id") in organizations]
    if not with_provider:
        return {}

    def cite(service, field, value):
        parts = [p for p in (service.get(field) or "").split(";") if p.strip()]
        if str(value) not in parts:
            service[field] = ";".join(parts + [str(value)]) if field == "funding_record_ids" \
                else "; ".join(parts + [str(value)])

    for decision in decisions:
        if own.random() < 0.15:
            decision["recipient"] = "Synthetic recipients (several, not named in the synthetic source)"
            decision["recipient_organization_id"] = ""
            continue
        funded = own.sample(with_provider, 2 if own.random() < 0.2 else 1)
        provider = organizations[funded[0]["organization_id"]]
        decision["recipient"] = provider["name"]
        decision["recipient_organization_id"] = provider["organization_id"]
        for service in funded:
            cite(service, "funding_record_ids", decision["record_id"])
            cite(service, "decision_refs", decision["reference"])
    for opportunity in opportunities:
        if own.random() < 0.25:
            cite(own.choice(with_provider), "decision_refs", opportunity["reference"])
    partners = []
    ids = sorted(organizations)
    for service in with_provider:
        if own.random() >= 1 / 6:
            continue
        lead = service["organization_id"]
        wanted = min(len(ids) - 1, own.choice([1, 1, 2]))
        others = [i for i in own.sample(ids, min(len(ids), wanted + 1)) if i != lead][:wanted]
        for organization_id, role in [(lead, "lead")] + [(o, "partner") for o in others]:
            partners.append({
                "service_id": service["service_id"], "organization_id": organization_id, "role": role,
                "source_title": SYNTHETIC_SOURCE, "source_url": SYNTHETIC_URL,
                "source_excerpt": f"SYNTHETIC - invented for the demo: {organizations[organization_id]['name']} "
                                  f"is the {role} for {service['name']}.",
            })
    return {"service_partners": partners}
