"""Open Referral UK (HSDS 3.0 UK profile) views of the services directory: pure functions over a SQLite connection.

Used by plugins/openreferral.py (the HTTP routes) and unit-tested directly. Identifiers: OR-UK wants UUIDs, the
directory uses slugs, so every object gets a name-based UUID (uuid5) derived from its slug. The same slug always gives
the same UUID, on every build, and `/services/{id}` accepts either. Nothing is invented to fill OR-UK fields: a field
with no public source is left out (or an empty list), and the publication's own fields (commissioner, money,
sources, eligibility ...) are carried in the extension object `x_commissioning` of each service.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

HSDS_VERSION = "3.0"
PROFILE_URL = "https://github.com/OpenReferralUK/uk-profile"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/london-commissioning-data/openreferral")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_WHOLE_NUMBER = 1_000_000_000  # page * per_page stays within SQLite's 64-bit integers
TAXONOMY_NAME = "London policing and crime commissioning service areas"
TAXONOMY_DESCRIPTION = (
    "This publication's own six policy areas for services commissioned by MOPAC and the VRU, each mapped to a "
    "Police and Crime Plan theme (table service_area_taxonomy)."
)
GSS_URI = "http://statistics.data.gov.uk/id/statistical-geography/{}"
# OR-UK status is one of active / inactive / defunct / temporarily closed. Only services with current funding seen in
# a source are "active"; ended, planned and unknown become "inactive" (not "defunct": the end of MOPAC/VRU funding
# does not mean the service closed). The publication's own status is in x_commissioning.commissioning_status.
STATUS = {"active": "active", "ended": "inactive", "planned": "inactive", "unknown": "inactive"}
GSS_PATTERN = re.compile(r"^E09\d{6}$", re.IGNORECASE)
DISTRICT_PATTERN = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def uid(kind: str, *parts: str) -> str:
    """Stable UUID for an object of this kind with these slug parts."""
    return str(uuid.uuid5(NAMESPACE, ":".join([kind, *[str(p) for p in parts]])))


TAXONOMY_ID = uid("taxonomy", "service_area_taxonomy")


class QueryError(ValueError):
    """A request parameter is not valid; the message says why (returned as HTTP 400)."""


@dataclass
class ServiceQuery:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    search: str | None = None
    taxonomy_term_id: str | None = None
    modified_after: str | None = None  # normalised to YYYY-MM-DDTHH:MM:SSZ
    borough: str | None = None
    postcode_district: str | None = None


def positive_int(args: Mapping, name: str, default: int, maximum: int | None = None) -> int:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise QueryError(f"{name} must be a whole number of 1 or more, not {text!r}")
    value = int(text)
    maximum = MAX_WHOLE_NUMBER if maximum is None else min(maximum, MAX_WHOLE_NUMBER)
    if value > maximum:
        raise QueryError(f"{name} must be at most {maximum}")
    return value


def parse_datetime(text: str) -> str:
    """A date or an ISO 8601 date-time as YYYY-MM-DDTHH:MM:SSZ (UTC); naive times are read as UTC."""
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            moment = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(), dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+", 1) if "T" in raw else raw)
            moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    except ValueError:
        raise QueryError(
            f"modified_after must be a date (2026-01-31) or date-time (2026-01-31T09:00:00Z), not {text!r}"
        ) from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_service_query(args: Mapping) -> ServiceQuery:
    """Read the /services parameters from a mapping of query-string values; raise QueryError on a bad one."""
    query = ServiceQuery(
        page=positive_int(args, "page", 1),
        per_page=positive_int(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
    )
    query.search = (args.get("search") or "").strip() or None
    query.taxonomy_term_id = (args.get("taxonomy_term_id") or "").strip() or None
    if (args.get("modified_after") or "").strip():
        query.modified_after = parse_datetime(args["modified_after"])
    query.borough = (args.get("borough") or "").strip() or None
    district = (args.get("postcode_district") or "").strip().upper()
    if district:
        if not DISTRICT_PATTERN.fullmatch(district):
            raise QueryError(f"postcode_district must be an outward code such as SE1 or CR0, not {district!r}")
        query.postcode_district = district
    return query


def page_wrapper(contents: list, total: int, page: int, per_page: int) -> dict:
    """The OR-UK Page object around one page of results."""
    total_pages = math.ceil(total / per_page) if total else 0
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


# --- reading the database ------------------------------------------------------------------------------------------


def rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?"
    return conn.execute(sql, (name,)).fetchone() is not None


def resolve_borough(conn: sqlite3.Connection, text: str) -> dict:
    """A borough by GSS code or name (case-insensitive; 'and'/'&' and hyphens are read alike)."""
    wanted = normalise_name(text)
    for borough in rows(conn, "SELECT gss_code, name FROM boroughs ORDER BY gss_code"):
        if borough["gss_code"].lower() == text.strip().lower() or normalise_name(borough["name"]) == wanted:
            return borough
    raise QueryError(f"unknown borough {text!r}: give a GSS code (E09000001 to E09000033) or a borough name")


def normalise_name(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", text.lower().replace("&", " and ")).strip()


def service_filters(conn: sqlite3.Connection, query: ServiceQuery) -> tuple[list[str], list]:
    where: list[str] = []
    params: list = []
    if query.search:
        terms = [t for t in re.findall(r"\w+", query.search) if t]
        if has_table(conn, "services_fts") and terms:
            where.append("s.rowid IN (SELECT rowid FROM services_fts WHERE services_fts MATCH ?)")
            params.append(" ".join(f'"{t}"' for t in terms))
        else:
            where.append("(s.name LIKE ? OR s.description LIKE ?)")
            params += [f"%{query.search}%"] * 2
    if query.taxonomy_term_id:
        area = resolve_term(conn, query.taxonomy_term_id)
        where.append("s.service_area = ?")
        params.append(area)
    if query.modified_after:
        where.append(
            "s.service_id IN (SELECT entity_id FROM changes WHERE entity = 'service' AND change != 'removed' "
            "AND changed_on || 'T00:00:00Z' >= ?)"
        )
        params.append(query.modified_after)
    if query.borough:
        borough = resolve_borough(conn, query.borough)
        where.append("s.service_id IN (SELECT service_id FROM service_areas WHERE gss_code = ?)")
        params.append(borough["gss_code"])
    if query.postcode_district:
        found = conn.execute(
            "SELECT gss_code FROM postcode_districts WHERE outcode = ?", (query.postcode_district,)
        ).fetchone()
        if found is None:
            raise QueryError(f"unknown postcode district {query.postcode_district!r}: not a London postcode district")
        where.append(
            "(s.service_id IN (SELECT service_id FROM service_areas WHERE gss_code = ?) OR s.service_id IN "
            "(SELECT sal.service_id FROM service_at_location sal JOIN locations l ON l.location_id = sal.location_id "
            "WHERE l.postcode_district = ?))"
        )
        params += [found[0], query.postcode_district]
    return where, params


def resolve_term(conn: sqlite3.Connection, text: str) -> str:
    for row in rows(conn, "SELECT service_area FROM service_area_taxonomy"):
        if text in (row["service_area"], uid("taxonomy_term", row["service_area"])):
            return row["service_area"]
    raise QueryError(f"unknown taxonomy_term_id {text!r}: see /taxonomy_terms")


def last_modified(conn: sqlite3.Connection, service_ids: list[str]) -> dict[str, str]:
    if not service_ids or not has_table(conn, "changes"):
        return {}
    marks = ",".join("?" * len(service_ids))
    found = conn.execute(
        f"SELECT entity_id, max(changed_on) FROM changes WHERE entity = 'service' AND change != 'removed' "
        f"AND entity_id IN ({marks}) GROUP BY entity_id",
        service_ids,
    ).fetchall()
    return {key: f"{date}T00:00:00Z" for key, date in found}


def organizations_by_id(conn: sqlite3.Connection, ids) -> dict[str, dict]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    found = rows(conn, f"SELECT * FROM organizations WHERE organization_id IN ({marks})", ids)
    return {o["organization_id"]: o for o in found}


def organization_object(org: dict) -> dict:
    result = {
        "id": uid("organization", org["organization_id"]),
        "name": org["name"],
        "description": org["description"] or "",
    }
    if org.get("website"):
        result["website"] = org["website"]
    identifiers = []
    for kind, column in (("UK-CHC", "charity_number"), ("GB-COH", "company_number")):
        if org.get(column):
            identifiers.append({
                "id": uid("organization_identifier", org["organization_id"], kind),
                "organization_id": result["id"],
                "identifier_scheme": kind,
                "identifier_type": "Charity number" if kind == "UK-CHC" else "Company number",
                "identifier": org[column],
            })
    if identifiers:
        result["organization_identifiers"] = identifiers
    return result


def service_summary(service: dict, org: dict | None, modified: str | None) -> dict:
    """The one-to-one fields of a service (the shape of OR-UK service_list.json)."""
    result = {
        "id": uid("service", service["service_id"]),
        "name": service["name"],
        "description": service["description"],
        "status": STATUS.get(service["status"], "inactive"),
    }
    if service.get("url"):
        result["url"] = service["url"]
    if modified:
        result["last_modified"] = modified
    if org is not None:
        result["organization_id"] = uid("organization", org["organization_id"])
        result["organization"] = organization_object(org)
    result["x_commissioning"] = {
        "service_id": service["service_id"],
        "organization_id": service.get("organization_id"),
        "commissioner": service["commissioner"],
        "funding_stream": service.get("funding_stream"),
        "service_area": service["service_area"],
        "commissioning_status": service["status"],
        "coverage": service["coverage"],
        "start_date": service.get("start_date"),
        "end_date": service.get("end_date"),
        "annual_value_gbp": service.get("annual_value_gbp"),
        "total_value_gbp": service.get("total_value_gbp"),
        "value_note": service.get("value_note"),
        "eligibility": service.get("eligibility"),
        "how_to_refer": service.get("how_to_refer"),
        "decision_refs": service.get("decision_refs"),
        "source_title": service["source_title"],
        "source_url": service["source_url"],
        "last_verified": service.get("last_verified"),
    }
    return result


def list_services(conn: sqlite3.Connection, query: ServiceQuery) -> dict:
    """One page of services, ordered by service_id (unique, so every service appears on exactly one page)."""
    where, params = service_filters(conn, query)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    (total,) = conn.execute(f"SELECT count(*) FROM services s {clause}", params).fetchone()
    found = rows(
        conn,
        f"SELECT s.* FROM services s {clause} ORDER BY s.service_id LIMIT ? OFFSET ?",
        [*params, query.per_page, (query.page - 1) * query.per_page],
    )
    orgs = organizations_by_id(conn, [s["organization_id"] for s in found])
    modified = last_modified(conn, [s["service_id"] for s in found])
    contents = [service_summary(s, orgs.get(s["organization_id"]), modified.get(s["service_id"])) for s in found]
    return page_wrapper(contents, total, query.page, query.per_page)


def find_service_id(conn: sqlite3.Connection, text: str) -> str | None:
    """The slug of a service given its slug or its UUID."""
    if conn.execute("SELECT 1 FROM services WHERE service_id = ?", (text,)).fetchone():
        return text
    for (service_id,) in conn.execute("SELECT service_id FROM services"):
        if uid("service", service_id) == text.lower():
            return service_id
    return None


def taxonomy_term(row: dict) -> dict:
    return {
        "id": uid("taxonomy_term", row["service_area"]),
        "name": row["label"],
        "description": row["description"],
        "taxonomy": TAXONOMY_NAME,
        "taxonomy_id": TAXONOMY_ID,
        "term": row["service_area"],
    }


def service_detail(conn: sqlite3.Connection, text: str) -> dict | None:
    """A fully nested service, or None if there is no such service."""
    service_id = find_service_id(conn, text)
    if service_id is None:
        return None
    (service,) = rows(conn, "SELECT * FROM services WHERE service_id = ?", (service_id,))
    org = organizations_by_id(conn, [service["organization_id"]]).get(service["organization_id"])
    result = service_summary(service, org, last_modified(conn, [service_id]).get(service_id))
    sid = result["id"]
    result["service_areas"] = [
        {
            "id": uid("service_area", service_id, area["gss_code"]),
            "service_id": sid,
            "name": area["name"],
            "service_area": area["name"],
            "extent": area["gss_code"],
            "extent_type": "text",
            "uri": GSS_URI.format(area["gss_code"]),
        }
        for area in rows(
            conn,
            "SELECT a.gss_code, b.name FROM service_areas a JOIN boroughs b ON b.gss_code = a.gss_code "
            "WHERE a.service_id = ? ORDER BY a.gss_code",
            (service_id,),
        )
    ]
    result["service_at_locations"] = [
        location_object(service_id, sid, loc)
        for loc in rows(
            conn,
            "SELECT l.* FROM service_at_location sal JOIN locations l ON l.location_id = sal.location_id "
            "WHERE sal.service_id = ? ORDER BY l.location_id",
            (service_id,),
        )
    ]
    result["funding"] = funding_objects(conn, service, sid)
    result["contacts"] = contact_objects(conn, service_id, sid)
    result["attributes"] = [
        {
            "id": uid("attribute", service_id, term["service_area"]),
            "link_id": sid,
            "link_type": "service",
            "taxonomy_term_id": uid("taxonomy_term", term["service_area"]),
            "taxonomy_term": taxonomy_term(term),
        }
        for term in rows(conn, "SELECT * FROM service_area_taxonomy WHERE service_area = ?", (service["service_area"],))
    ]
    return result


def location_object(service_id: str, sid: str, loc: dict) -> dict:
    location = {"id": uid("location", loc["location_id"]), "location_type": "physical", "name": loc["name"]}
    if loc.get("address"):
        location["description"] = loc["address"]
    if loc.get("latitude") is not None and loc.get("longitude") is not None:
        location["latitude"] = loc["latitude"]
        location["longitude"] = loc["longitude"]
    postcode = loc.get("postcode") or ""
    if " " in postcode and loc.get("address"):  # a full postcode: a postal address can be given without guessing
        location["addresses"] = [{
            "id": uid("address", loc["location_id"]),
            "location_id": location["id"],
            "address_1": loc["address"],
            "city": "London",
            "state_province": "Greater London",
            "postal_code": postcode,
            "country": "GB",
            "address_type": "physical",
        }]
    return {
        "id": uid("service_at_location", service_id, loc["location_id"]),
        "service_id": sid,
        "location_id": location["id"],
        "location": location,
    }


def funding_objects(conn: sqlite3.Connection, service: dict, sid: str) -> list[dict]:
    """One funding item per funding decision the service row cites; else one from its commissioner and stream."""
    ids = [int(i) for i in (service.get("funding_record_ids") or "").split(";") if i.strip().isdigit()]
    records = []
    if ids and has_table(conn, "funding_decisions"):
        marks = ",".join("?" * len(ids))
        records = rows(conn, f"SELECT * FROM funding_decisions WHERE record_id IN ({marks}) ORDER BY record_id", ids)
    if records:
        return [
            {
                "id": uid("funding", service["service_id"], str(r["record_id"])),
                "service_id": sid,
                "source": "; ".join(
                    p for p in (r.get(k) for k in ("organisation", "reference", "item", "amount_as_stated")) if p
                ),
            }
            for r in records
        ]
    parts = (service["commissioner"], service.get("funding_stream"), service.get("decision_refs"))
    text = "; ".join(p for p in parts if p)
    return [{"id": uid("funding", service["service_id"]), "service_id": sid, "source": text}]


def contact_objects(conn: sqlite3.Connection, service_id: str, sid: str) -> list[dict]:
    """Public contacts from service_contacts when that table exists (MOPAC has not published any yet)."""
    if not has_table(conn, "service_contacts"):
        return []
    result = []
    for contact in rows(conn, "SELECT * FROM service_contacts WHERE service_id = ? ORDER BY contact_id", (service_id,)):
        # The UK profile's contact has only id, service_id, name and title: the rest are x_ extension fields.
        item = {"id": uid("contact", contact["contact_id"]), "service_id": sid, "name": contact["name"]}
        for key, column in (("title", "title"), ("x_department", "department"), ("x_email", "email"),
                            ("x_phone", "phone"), ("x_source_title", "source_title"), ("x_source_url", "source_url")):
            if contact.get(column):
                item[key] = contact[column]
        result.append(item)
    return result


def list_taxonomies(conn: sqlite3.Connection, page: int, per_page: int) -> dict:
    contents = [{
        "id": TAXONOMY_ID,
        "name": TAXONOMY_NAME,
        "description": TAXONOMY_DESCRIPTION,
        "version": HSDS_VERSION,
    }] if has_table(conn, "service_area_taxonomy") else []
    return page_wrapper(contents[(page - 1) * per_page: page * per_page], len(contents), page, per_page)


def list_taxonomy_terms(conn: sqlite3.Connection, page: int, per_page: int) -> dict:
    terms = [taxonomy_term(r) for r in rows(conn, "SELECT * FROM service_area_taxonomy ORDER BY service_area")]
    return page_wrapper(terms[(page - 1) * per_page: page * per_page], len(terms), page, per_page)


def api_index(base_url: str, documentation_url: str) -> dict:
    return {
        "version": HSDS_VERSION,
        "profile": PROFILE_URL,
        "openapi_url": f"{base_url}/openapi.json",
        "documentation_url": documentation_url,
    }


def openapi_document(base_url: str) -> dict:
    """The OpenAPI description of what this API actually serves (a subset of the OR-UK API, plus two filters)."""
    compiled = "https://raw.githubusercontent.com/openreferral/uk-profile/main/schema/compiled"
    page_params = [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1},
         "description": "Page number (from 1)."},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
         "description": f"Results per page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE})."},
    ]

    def paged(item_ref: str | None, description: str) -> dict:
        contents = {"type": "array", "items": {"$ref": item_ref} if item_ref else {"type": "object"}}
        return {"200": {"description": description, "content": {"application/json": {"schema": {
            "allOf": [{"$ref": "#/components/schemas/Page"}], "properties": {"contents": contents}}}}}}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "London policing and crime commissioning: Open Referral UK API (read-only)",
            "version": HSDS_VERSION,
            "description": "Services commissioned by MOPAC and the VRU in the shape of the Open Referral UK profile "
                           "(HSDS 3.0). Read-only, no key, CORS enabled. Data: real public sources, Open Government "
                           "Licence v3.0; see x_commissioning.source_url on each service.",
        },
        "servers": [{"url": base_url}],
        "paths": {
            "/": {"get": {"summary": "Version, profile and this document's address.", "responses": {"200": {
                "description": "API information"}}}},
            "/services": {"get": {
                "summary": "Paginated services ordered by slug: walking every page gives each service once.",
                "parameters": [
                    *page_params,
                    {"name": "search", "in": "query", "schema": {"type": "string"}, "description": "Full-text search."},
                    {"name": "taxonomy_term_id", "in": "query", "schema": {"type": "string"},
                     "description": "A taxonomy term id (UUID) or slug from /taxonomy_terms."},
                    {"name": "modified_after", "in": "query", "schema": {"type": "string"},
                     "description": "Services added or changed on or after this date or date-time (UTC)."},
                    {"name": "borough", "in": "query", "schema": {"type": "string"},
                     "description": "Extension: services covering this borough (GSS code or name)."},
                    {"name": "postcode_district", "in": "query", "schema": {"type": "string"},
                     "description": "Extension: services covering the borough containing this postcode district's "
                                    "centroid, or with a delivery point in the district."},
                ],
                "responses": paged(f"{compiled}/service_list.json", "A page of services"),
            }},
            "/services/{id}": {"get": {
                "summary": "One fully nested service (id: UUID or slug).",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "A service", "content": {"application/json": {"schema": {
                    "$ref": f"{compiled}/service.json"}}}}, "404": {"description": "No such service"}},
            }},
            "/taxonomies": {"get": {"summary": "Paginated taxonomies.", "parameters": page_params,
                                    "responses": paged(None, "A page of taxonomies")}},
            "/taxonomy_terms": {"get": {"summary": "Paginated taxonomy terms.", "parameters": page_params,
                                        "responses": paged(None, "A page of taxonomy terms")}},
        },
        "components": {"schemas": {"Page": {"type": "object", "properties": {
            "total_items": {"type": "integer"}, "total_pages": {"type": "integer"},
            "page_number": {"type": "integer"}, "size": {"type": "integer"}, "first_page": {"type": "boolean"},
            "last_page": {"type": "boolean"}, "empty": {"type": "boolean"}}}}},
    }
