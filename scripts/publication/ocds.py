"""OCDS notices -> proposed rows for data/ (the mapping behind `make refresh`; reading and writing are in
scripts/refresh_ocds.py and scripts/accept_inbox.py).

Steps, each a function here with its own unit tests (tests/test_refresh_ocds.py):
1. `parse_documents`: the bytes of an OCDS file (a release package, a record package, a release, a record, an array of
   them, or JSON lines / concatenated JSON of any of these) -> JSON documents, each classified with ocdskit's format
   predicates. Anything else is an OCDSError naming the file and the place.
2. `check_document`: the structure the OCDS 1.1 schemas require (package: uri, publisher, publishedDate, version,
   releases or records; release: ocid, id, date, tag, initiationType; record: ocid, releases). With a release schema
   (`--release-schema`), every release is also validated against it with jsonschema (Draft 4, as the schema declares).
3. `compile_notices`: releases grouped by ocid and compiled into one compiled release per contracting process with
   ocdsmerge (a record's compiledRelease is used where its releases are only linked).
4. `select`: keep MOPAC and VRU notices that commission services; leave out other buyers and operational police
   procurement (CPV codes and tender.mainProcurementCategory), each with a reason.
5. `opportunity_row`, `decision_rows`, `service_row`: one notice -> rows in the columns of
   data/mopac/funding_opportunities.csv, data/mopac/funding_decisions.csv and data/services/services.csv. A column is
   filled only where the notice states it or a rule here can tell; otherwise it is left empty for the curator.
6. `propose`: those rows compared with the rows already in data/ (by ocid, else reference or title) -> proposals
   (add, or update of the facts that changed), each with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from ocdskit.util import is_linked_release, is_record, is_record_package, is_release, is_release_package

from scripts.common.dates import parse_date

from .figures import figure_stated

MOPAC_BUYER_ID = "GB-PPON-PTMT-7816-YCQG"

# How a buyer's name is normalised before it is compared: lower case, "&" as "and", no apostrophes, no punctuation,
# no leading "the" ("The Mayor's Office for Policing And Crime" = "mayors office for policing and crime").
_APOSTROPHES = re.compile(r"['’`]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    text = _APOSTROPHES.sub("", (text or "").lower().replace("&", " and "))
    text = _NOT_WORD.sub(" ", text).strip()
    return text[4:] if text.startswith("the ") else text


# Names MOPAC and the VRU publish under (seen in the notices transcribed in data/mopac/funding_opportunities.csv:
# "Mayor's Office for Policing and Crime", "Mayor's Office for Police and Crime", "Mayors Office for Policing and
# Crime", "Mayor's Office For Policing & Crime", "London Violence Reduction Unit").
MOPAC_NAMES = ("office for policing and crime", "office for police and crime", "mopac")
VRU_NAMES = ("violence reduction unit", "vru")
# The GLA family: kept only when the notice says it is for MOPAC or the VRU ("on behalf of MOPAC").
GLA_NAMES = ("greater london authority", "gla", "mayor of london")


def _has_name(normalised: str, names: Iterable[str]) -> bool:
    padded = f" {normalised} "
    return any(f" {name} " in padded for name in names)


# CPV divisions (first two digits) of the services MOPAC and the VRU commission: health and social work (85),
# public administration and community services (75), business services such as research and consultancy (79),
# education and training (80), other community, social and personal services (98).
SERVICE_DIVISIONS = frozenset({"85", "75", "79", "80", "98"})
# Operational police procurement: vehicles (34), office and computing machinery (30), software (48), IT services (72),
# security, fire-fighting and police equipment (35), construction work (45), repair and maintenance (50), fuels and
# energy (09), and other goods and estates divisions.
OPERATIONAL_DIVISIONS = frozenset(
    {"34", "30", "48", "72", "35", "45", "50", "09", "18", "31", "32", "33", "38", "39", "42", "44", "51", "64", "65",
     "70", "71", "90"}
)
# Parts of the service divisions that are police operations, not commissioned services: legal (791), accounting and
# audit (792), recruitment and supply of personnel (796), investigation and security (797), printing (798), training in
# defence and security materials (806).
OPERATIONAL_PREFIXES = ("791", "792", "796", "797", "798", "806")
OPERATIONAL_CATEGORIES = frozenset({"goods", "works"})

# service_area from the notice's title and description: set only when exactly one area's words are found.
SERVICE_AREA_WORDS = {
    "victims": ("victim", "witness", "restorative justice"),
    "vawg": ("violence against women", "vawg", "domestic abuse", "domestic violence", "sexual violence",
             "sexual behaviour", "sexual abuse", "stalking", "rape"),
    "youth-violence": ("young people", "young londoners", "young adults", "youth", "serious violence",
                       "knife crime", "violence reduction"),
    "reducing-reoffending": ("reoffending", "re offending", "probation", "offender"),
    "community-safety": ("hate crime", "extremism", "anti social behaviour", "neighbourhood crime"),
    "police-accountability": ("scrutiny", "scrutineer", "police accountability"),
}
# funding_decisions.theme from the funder and the service area, where one follows from the other.
THEMES = {"victims": "Victims", "vawg": "VAWG", "youth-violence": "Violence reduction",
          "reducing-reoffending": "Crime prevention"}

PLANNING_TAGS = frozenset({"planning", "planningUpdate"})
TENDER_TAGS = frozenset({"tender", "tenderAmendment", "tenderUpdate", "tenderCancellation"})
AWARD_TAGS = frozenset({"award", "awardUpdate", "awardCancellation", "contract", "contractUpdate",
                        "contractAmendment", "implementation", "implementationUpdate", "contractTermination"})
RELEASE_TAGS = PLANNING_TAGS | TENDER_TAGS | AWARD_TAGS | {"compiled"}

# Without a release schema, releases are merged by ocdsmerge's identifier strategy (arrays of objects by `id`), with
# the release's own `id`, `date` and `tag` omitted as OCDS 1.1.4+ marks them (omitWhenMerged).
DEFAULT_MERGE_RULES = {("id",): "omitWhenMerged", ("date",): "omitWhenMerged", ("tag",): "omitWhenMerged"}

FTS_PREFIX = "ocds-h6vhtk-"  # Find a Tender
CF_PREFIX = "ocds-b5fd17-"  # Contracts Finder
FTS_NOTICE_ID = re.compile(r"^\d{6}-\d{4}$")
DESCRIPTION_CHARS = 1000


class OCDSError(Exception):
    """The input is not OCDS this reader can use; the message names the file and where (nothing is written)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------------------------
# 1. Parsing


@dataclass
class Document:
    where: str  # e.g. "notices.jsonl:3" or "package.json"
    kind: str  # "release package", "record package", "release", "record"
    data: dict


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _json_values(text: str, where: str) -> list[tuple[str, object]]:
    """The JSON value of `text`, or each value of JSON lines / concatenated JSON, with where each starts."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    try:
        return [(where, decoder.decode(text))]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise OCDSError([f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}"]) from None
    except ValueError as exc:
        raise OCDSError([f"{where}: not JSON: {exc}"]) from None
    values, position = [], 0
    whitespace = re.compile(r"\s*")
    while True:
        position = whitespace.match(text, position).end()
        if position >= len(text):
            return values
        line = text.count("\n", 0, position) + 1
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise OCDSError([f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}"]) from None
        except ValueError as exc:
            raise OCDSError([f"{where}:{line}: not JSON: {exc}"]) from None
        values.append((f"{where}:{line}", value))


def classify(data) -> str | None:
    """Which OCDS document `data` is (ocdskit's predicates), or None."""
    if not isinstance(data, dict):
        return None
    if is_record_package(data):
        return "record package"
    if is_record(data):
        return "record"
    if is_release_package(data):
        return "release package"
    if is_release(data) or ("ocid" in data and "tag" in data) or ("tag" in data and "initiationType" in data):
        return "release"
    return None


def parse_documents(raw: bytes, where: str) -> list[Document]:
    """Every OCDS document in a file's bytes; OCDSError if it is not JSON, or a value in it is not OCDS."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OCDSError([f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"]) from None
    if not text.strip():
        raise OCDSError([f"{where}: empty file: expected OCDS JSON"])
    documents, problems = [], []
    for place, value in _json_values(text, where):
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            at = place if index is None else f"{place}[{index}]"
            kind = classify(item)
            if kind is None:
                found = type(item).__name__ if not isinstance(item, dict) else "object with " + (
                    ", ".join(sorted(item)[:6]) or "no fields")
                problems.append(
                    f"{at}: not OCDS: expected a release package (with releases), a record package (with records), "
                    f"a release (ocid, id, date, tag) or a record (ocid, releases); found a JSON {found}"
                )
                continue
            documents.append(Document(at, kind, item))
    if problems:
        raise OCDSError(problems)
    return documents


# ---------------------------------------------------------------------------------------------------------------
# 2. Structural checks (what the OCDS 1.1 schemas require) and, optionally, the release schema


PACKAGE_FIELDS = ("uri", "publisher", "publishedDate", "version")


def _is_datetime(value) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_release(release, where: str) -> list[str]:
    if not isinstance(release, dict):
        return [f"{where}: a release must be a JSON object, not {type(release).__name__}"]
    problems = []
    for name in ("ocid", "id"):
        value = release.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: release has no {name} (required by the OCDS release schema)"
                            if value is None else f"{where}: release {name} must be a non-empty string")
    if "date" not in release:
        problems.append(f"{where}: release has no date (required by the OCDS release schema)")
    elif not _is_datetime(release["date"]):
        problems.append(f"{where}: release date {release['date']!r} is not an ISO 8601 date-time")
    tag = release.get("tag")
    if tag is None:
        problems.append(f"{where}: release has no tag (required by the OCDS release schema)")
    elif not isinstance(tag, list) or not tag or not all(isinstance(t, str) for t in tag):
        problems.append(f"{where}: release tag must be a non-empty array of strings")
    else:
        unknown = [t for t in tag if t not in RELEASE_TAGS]
        if unknown:
            problems.append(f"{where}: release tag {', '.join(unknown)} is not in the OCDS releaseTag codelist")
    if "initiationType" not in release:
        problems.append(f"{where}: release has no initiationType (required by the OCDS release schema)")
    elif release["initiationType"] != "tender":
        problems.append(f"{where}: initiationType {release['initiationType']!r} is not 'tender' (the only code)")
    return problems


def _check_package(data: dict, where: str, array: str) -> list[str]:
    problems = []
    for name in PACKAGE_FIELDS:
        if name not in data:
            problems.append(f"{where}: {'release' if array == 'releases' else 'record'} package has no {name} "
                            "(required by the OCDS package schema)")
    version = data.get("version")
    if version is not None and not (isinstance(version, str) and version.startswith("1.1")):
        problems.append(f"{where}: OCDS version {version!r}: this reader handles OCDS 1.1")
    if "publishedDate" in data and not _is_datetime(data["publishedDate"]):
        problems.append(f"{where}: publishedDate {data['publishedDate']!r} is not an ISO 8601 date-time")
    if not isinstance(data.get(array), list):
        problems.append(f"{where}: {array} must be an array")
    return problems


def _check_record(record, where: str) -> list[str]:
    if not isinstance(record, dict):
        return [f"{where}: a record must be a JSON object"]
    problems = []
    ocid = record.get("ocid")
    if not isinstance(ocid, str) or not ocid:
        problems.append(f"{where}: record has no ocid (required by the OCDS record schema)")
    releases = record.get("releases")
    if not isinstance(releases, list) or not releases:
        problems.append(f"{where}: record has no releases (required by the OCDS record schema)")
        return problems
    for index, release in enumerate(releases):
        at = f"{where}.releases[{index}]"
        if isinstance(release, dict) and is_linked_release(release):
            if not isinstance(release.get("url"), str) or not _is_datetime(release.get("date")):
                problems.append(f"{at}: a linked release needs url and date")
            continue
        problems.extend(check_release(release, at))
        if isinstance(release, dict) and ocid and release.get("ocid") not in (None, ocid):
            problems.append(f"{at}: release ocid {release.get('ocid')!r} differs from the record's {ocid!r}")
    if "compiledRelease" in record:
        problems.extend(check_release(record["compiledRelease"], f"{where}.compiledRelease"))
    return problems


def releases_of(document: Document) -> list[tuple[str, dict]]:
    """(where, release) for every embedded release of a document (records' compiled releases included)."""
    data = document.data
    if document.kind == "release":
        return [(document.where, data)]
    if document.kind == "release package":
        return [(f"{document.where}.releases[{i}]", r) for i, r in enumerate(data.get("releases") or [])]
    records = [(document.where, data)] if document.kind == "record" else [
        (f"{document.where}.records[{i}]", r) for i, r in enumerate(data.get("records") or [])]
    found = []
    for at, record in records:
        if not isinstance(record, dict):
            continue
        for i, release in enumerate(record.get("releases") or []):
            if isinstance(release, dict) and not is_linked_release(release):
                found.append((f"{at}.releases[{i}]", release))
        if isinstance(record.get("compiledRelease"), dict):
            found.append((f"{at}.compiledRelease", record["compiledRelease"]))
    return found


def check_document(document: Document, release_validator=None) -> list[str]:
    """Problems with one document's structure; with a jsonschema validator of the release schema, schema errors too."""
    data, where = document.data, document.where
    if document.kind == "release":
        problems = check_release(data, where)
    elif document.kind == "release package":
        problems = _check_package(data, where, "releases")
        for index, release in enumerate(data.get("releases") or []):
            problems.extend(check_release(release, f"{where}.releases[{index}]"))
    elif document.kind == "record package":
        problems = _check_package(data, where, "records")
        for index, record in enumerate(data.get("records") or []):
            problems.extend(_check_record(record, f"{where}.records[{index}]"))
    else:
        problems = _check_record(data, where)
    if release_validator is not None and not problems:
        for at, release in releases_of(document):
            for error in sorted(release_validator.iter_errors(release), key=lambda e: list(e.absolute_path)):
                path = "/".join(str(p) for p in error.absolute_path) or "(release)"
                problems.append(f"{at}: {path}: {error.message} (OCDS release schema)")
    return problems


# ---------------------------------------------------------------------------------------------------------------
# 3. Compiling releases into one compiled release per ocid


@dataclass
class Notice:
    """One contracting process (ocid): its releases (oldest first) and their compiled release."""

    ocid: str
    releases: list[dict]
    compiled: dict
    package_uri: str = ""
    publisher: str = ""

    def latest(self, tags: frozenset[str] | None = None) -> dict | None:
        chosen = [r for r in self.releases if tags is None or set(r.get("tag") or ()) & tags]
        return chosen[-1] if chosen else None

    def has(self, tags: frozenset[str]) -> bool:
        return self.latest(tags) is not None


def compile_notices(documents: list[Document], merge_rules=None) -> list[Notice]:
    """Group every release by ocid and compile each group with ocdsmerge (sorted by date; a release seen twice, e.g.
    in two pages, counts once). A record whose releases are all linked contributes its compiledRelease."""
    from ocdsmerge import Merger
    from ocdsmerge.exceptions import OCDSMergeError

    merger = Merger(merge_rules=merge_rules if merge_rules is not None else DEFAULT_MERGE_RULES)
    groups: dict[str, dict[str, dict]] = {}
    origin: dict[str, tuple[str, str]] = {}
    for document in documents:
        package = document.data if document.kind.endswith("package") else {}
        publisher = (package.get("publisher") or {}).get("name", "") if isinstance(package.get("publisher"), dict) \
            else ""
        for _, release in _releases_for_compiling(document):
            ocid = release["ocid"]
            groups.setdefault(ocid, {})[release["id"]] = release
            origin.setdefault(ocid, (package.get("uri", ""), publisher))
    notices = []
    for ocid, by_id in groups.items():
        releases = sorted(by_id.values(), key=lambda r: _instant(r["date"]))
        try:
            compiled = merger.create_compiled_release(releases)
        except (OCDSMergeError, TypeError, ValueError) as exc:
            raise OCDSError([f"{ocid}: its releases cannot be compiled: {exc}"]) from None
        uri, publisher = origin[ocid]
        notices.append(Notice(ocid, releases, compiled, uri, publisher))
    return sorted(notices, key=lambda n: n.ocid)


def _releases_for_compiling(document: Document) -> list[tuple[str, dict]]:
    if document.kind in ("release", "release package"):
        return releases_of(document)
    records = [document.data] if document.kind == "record" else list(document.data.get("records") or [])
    found = []
    for record in records:
        embedded = [r for r in record.get("releases") or [] if isinstance(r, dict) and not is_linked_release(r)]
        if embedded:
            found.extend((document.where, r) for r in embedded)
        elif isinstance(record.get("compiledRelease"), dict):
            found.append((document.where, record["compiledRelease"]))
    return found


def _instant(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------------------------
# 4. Which notices are MOPAC or VRU commissioning services


@dataclass
class Selection:
    keep: bool
    funder: str  # MOPAC, VRU, MOPAC and VRU (kept notices)
    reason: str
    excluded_as: str = ""  # "other buyer" or "operational" (left out)


def _text(compiled: dict) -> str:
    tender = compiled.get("tender") or {}
    parts = [tender.get("title", ""), tender.get("description", ""), compiled.get("description", "")]
    parts += [a.get("title", "") + " " + a.get("description", "") for a in compiled.get("awards") or []]
    return " ".join(p for p in parts if isinstance(p, str))


def buyer(compiled: dict) -> tuple[str, str]:
    """(buyer id, buyer name): release.buyer, else the party with role buyer."""
    b = compiled.get("buyer") or {}
    if b.get("id") or b.get("name"):
        party = next((p for p in compiled.get("parties") or [] if p.get("id") == b.get("id")), {})
        return b.get("id", ""), b.get("name") or party.get("name", "")
    for party in compiled.get("parties") or []:
        if "buyer" in (party.get("roles") or []):
            return party.get("id", ""), party.get("name", "")
    return "", ""


def _buyer_party(compiled: dict) -> dict:
    buyer_id, _ = buyer(compiled)
    return next((p for p in compiled.get("parties") or [] if p.get("id") == buyer_id), {})


def cpv_codes(compiled: dict) -> list[str]:
    """CPV codes in the order the notice gives them: tender.classification, then each item's classification and
    additional classifications (tender items, then award items)."""
    codes = []

    def add(classification):
        if isinstance(classification, dict) and str(classification.get("scheme", "")).upper() == "CPV":
            code = str(classification.get("id", "")).strip()
            if code and code not in codes:
                codes.append(code)

    tender = compiled.get("tender") or {}
    add(tender.get("classification"))
    items = list(tender.get("items") or [])
    for award in compiled.get("awards") or []:
        items += award.get("items") or []
    for item in items:
        add(item.get("classification"))
        for extra in item.get("additionalClassifications") or []:
            add(extra)
    return codes


def _operational_code(code: str) -> bool:
    return code[:2] in OPERATIONAL_DIVISIONS or code.startswith(OPERATIONAL_PREFIXES)


def select(notice: Notice) -> Selection:
    """Keep MOPAC/VRU notices that commission services; the reason says why either way."""
    compiled = notice.compiled
    buyer_id, buyer_name = buyer(compiled)
    name = normalise(buyer_name)
    text = normalise(_text(compiled))
    identifier = (_buyer_party(compiled).get("identifier") or {})
    by_id = buyer_id == MOPAC_BUYER_ID or (
        identifier.get("scheme") == "GB-PPON" and f"GB-PPON-{identifier.get('id', '')}" == MOPAC_BUYER_ID)
    if by_id:
        how = f"buyer {MOPAC_BUYER_ID}"
    elif _has_name(name, MOPAC_NAMES) or _has_name(name, VRU_NAMES):
        how = f"buyer named {buyer_name!r}"
    elif _has_name(name, GLA_NAMES) and (_has_name(text, MOPAC_NAMES) or _has_name(text, VRU_NAMES)):
        how = f"buyer {buyer_name!r} on behalf of MOPAC/VRU (named in the notice)"
    else:
        return Selection(False, "", f"buyer {buyer_name or buyer_id or '(none)'} is not MOPAC or the VRU",
                         "other buyer")
    funder = funder_of(compiled, name, text)
    tender = compiled.get("tender") or {}
    category = tender.get("mainProcurementCategory") or next(
        (a.get("mainProcurementCategory") for a in compiled.get("awards") or [] if a.get("mainProcurementCategory")),
        "")
    if category in OPERATIONAL_CATEGORIES:
        return Selection(False, funder, f"{how}; mainProcurementCategory is {category!r}: operational procurement",
                         "operational")
    codes = cpv_codes(compiled)
    primary = codes[0] if codes else ""
    if primary and _operational_code(primary):
        return Selection(False, funder, f"{how}; CPV {primary} is operational police procurement", "operational")
    if primary[:2] in SERVICE_DIVISIONS:
        return Selection(True, funder, f"{how}; CPV {primary} is a commissioned service")
    operational = [c for c in codes if _operational_code(c)]
    if operational:
        return Selection(False, funder, f"{how}; CPV {', '.join(operational)} is operational police procurement",
                         "operational")
    service = [c for c in codes if c[:2] in SERVICE_DIVISIONS]
    if service:
        return Selection(True, funder, f"{how}; CPV {service[0]} is a commissioned service")
    if category in ("services", ""):
        what = f"CPV {primary} is in neither list" if primary else "no CPV code"
        return Selection(True, funder, f"{how}; services ({what}): check that it commissions a service")
    return Selection(False, funder, f"{how}; procurement category {category!r} is not services", "operational")


def funder_of(compiled: dict, buyer_name: str, text: str) -> str:
    """MOPAC, VRU, or MOPAC and VRU: the VRU where the buyer is the VRU, the notice names it, or the buyer's contact
    is the VRU's procurement mailbox; both where the notice names MOPAC and the VRU together."""
    contact = ((_buyer_party(compiled).get("contactPoint") or {}).get("email") or "").lower()
    vru = _has_name(buyer_name, VRU_NAMES) or _has_name(text, VRU_NAMES) or contact.startswith("vru")
    if vru and re.search(r"\bmopac and (the )?(london )?(vru|violence reduction unit)\b", text):
        return "MOPAC and VRU"
    return "VRU" if vru else "MOPAC"


# ---------------------------------------------------------------------------------------------------------------
# 5. Rows


@dataclass
class Mapped:
    """A row for one target file, with what the curator should know about it."""

    target: str
    row: dict
    ocid: str
    release_id: str
    notes: list[str] = field(default_factory=list)  # columns left for the curator, assumptions made
    key: str = ""  # which proposal this is, within the target (ocid, or ocid + recipient)


def clean(text) -> str:
    """One line of plain text, without a leading character a spreadsheet would read as a formula."""
    if not isinstance(text, str):
        return ""
    text = re.sub(r"\s+", " ", text).strip()
    return text.lstrip("=+-@ ").strip()


def shorten(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return (cut[: end + 1] if end > limit // 3 else cut.rsplit(" ", 1)[0]) + " …"


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", clean(text)) if s]


def _gbp(value) -> Decimal | None:
    if not isinstance(value, dict) or value.get("currency") not in (None, "GBP"):
        return None
    amount = value.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
        return None
    try:
        number = Decimal(str(amount))
    except ArithmeticError:
        return None
    return number if number >= 0 else None


def number_text(value: Decimal | None) -> str:
    if value is None:
        return ""
    return str(value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize())


def pounds(value: Decimal) -> str:
    number = value.quantize(Decimal(1)) if value == value.to_integral_value() else value
    return f"£{number:,}"


def excerpt_for(figures: list[Decimal | None], texts: list[str], value_json: dict[str, dict]) -> str:
    """The notice's own words that state every figure: the sentences of its title and description that state them,
    else the value as the OCDS release writes it ("value": {"amount": 648000, "currency": "GBP"})."""
    wanted = [f for f in figures if f is not None]
    chosen: list[str] = []
    for figure in wanted:
        if any(figure_stated(figure, s) for s in chosen):
            continue
        found = next((s for t in texts for s in sentences(t) if figure_stated(figure, s)), None)
        if found is None:
            chosen = []
            break
        chosen.append(found)
    if chosen:
        return " ... ".join(chosen)
    if wanted:
        return "; ".join(f'"{name}": {json.dumps(value, ensure_ascii=False)}' for name, value in value_json.items())
    first = sentences(texts[-1] if texts else "")
    return first[0] if first else ""


def _date(value) -> str:
    day = parse_date(value) if isinstance(value, str) and value[:4].isdigit() else None
    return day.isoformat() if day else ""


def _day_text(value: str) -> str:
    day = parse_date(value)
    return f"{day.day} {day.strftime('%b %Y')}" if day else ""


def period_text(period: dict | None) -> str:
    period = period or {}
    start, end = _date(period.get("startDate")), _date(period.get("endDate"))
    text = " - ".join(p for p in (_day_text(start), _day_text(end)) if p)
    if start and not end:
        text = f"from {_day_text(start)}"
    if period.get("maxExtentDate") and _date(period["maxExtentDate"]) != end:
        text += f" (may extend to {_day_text(_date(period['maxExtentDate']))})"
    if not text and period.get("durationInDays"):
        text = f"{period['durationInDays']} days"
    return text


def service_area_of(compiled: dict) -> str:
    text = normalise(_text(compiled))
    found = [area for area, words in SERVICE_AREA_WORDS.items()
             if any(re.search(r"\b" + re.escape(normalise(word)), text) for word in words)]
    return found[0] if len(found) == 1 else ""


def coverage_of(compiled: dict) -> tuple[str, str]:
    """(coverage, note) from the delivery regions of the items: London-wide when the region is London (NUTS UKI), the
    UK or not stated; boroughs when only London sub-regions (UKI3x-UKI7x) are named."""
    tender = compiled.get("tender") or {}
    items = list(tender.get("items") or [])
    for award in compiled.get("awards") or []:
        items += award.get("items") or []
    regions = sorted({str(a.get("region", "")).strip() for i in items for a in i.get("deliveryAddresses") or []
                      if a.get("region")})
    if regions and all(r.upper().startswith("UKI") and len(r) > 3 for r in regions):
        return "boroughs", (f"coverage: delivery regions {', '.join(regions)} are parts of London: list the boroughs "
                            "in opportunity_boroughs / service_boroughs")
    if not regions:
        return "london-wide", "coverage: no delivery region stated; london-wide assumed (a MOPAC/VRU notice)"
    return "london-wide", ""


def source_of(notice: Notice, release: dict) -> tuple[str, str]:
    """(source_title, source_url) of a release: its own notice document on Find a Tender or Contracts Finder where
    the release links it, else the publisher's notice or record address for the ocid."""
    title = clean((notice.compiled.get("tender") or {}).get("title")) or notice.ocid
    release_id = str(release.get("id", ""))
    urls = []
    for section in ("planning", "tender"):
        urls += [(d.get("id"), d.get("url")) for d in (release.get(section) or {}).get("documents") or []]
    for part in ("awards", "contracts"):
        for item in release.get(part) or []:
            urls += [(d.get("id"), d.get("url")) for d in item.get("documents") or []]
    notice_urls = [u for i, u in urls if isinstance(u, str) and re.match(r"^https?://\S+$", u)
                   and ("/Notice/" in u or "/notice/" in u) and (i == release_id or release_id in u)]
    if notice.ocid.startswith(FTS_PREFIX):
        if notice_urls:
            return f"Find a Tender notice {release_id}: {title}", notice_urls[0]
        if FTS_NOTICE_ID.match(release_id):
            return (f"Find a Tender notice {release_id}: {title}",
                    f"https://www.find-tender.service.gov.uk/Notice/{release_id}")
        return (f"Find a Tender OCDS record {notice.ocid}: {title}",
                f"https://www.find-tender.service.gov.uk/api/1.0/ocdsRecordPackages/{notice.ocid}")
    if notice.ocid.startswith(CF_PREFIX):
        return (f"Contracts Finder notice {notice.ocid}: {title}",
                notice_urls[0] if notice_urls else
                f"https://www.contractsfinder.service.gov.uk/notice/{notice.ocid[len(CF_PREFIX):]}")
    url = notice_urls[0] if notice_urls else (notice.package_uri if re.match(r"^https?://\S+$", notice.package_uri
                                                                             or "") else "")
    who = f" ({notice.publisher})" if notice.publisher else ""
    return f"OCDS release {release_id}{who}: {title}", url


def _stage_label(notice: Notice, release: dict) -> str:
    tags = set(release.get("tag") or ())
    documents = [d for d in ((release.get("planning") or {}).get("documents") or []) if isinstance(d, dict)]
    if tags & TENDER_TAGS:
        return "Tender notice"
    if tags & AWARD_TAGS:
        return "Award notice"
    if any(d.get("documentType") == "marketEngagementNotice" for d in documents):
        return "Preliminary market engagement notice"
    return "Planning notice"


def opportunity_row(notice: Notice, selection: Selection) -> Mapped | None:
    """A funding_opportunities row from a notice's planning and tender releases (None without any)."""
    latest = notice.latest(PLANNING_TAGS | TENDER_TAGS)
    if latest is None:
        return None
    compiled, tender = notice.compiled, notice.compiled.get("tender") or {}
    notes: list[str] = []
    stage = _stage_label(notice, latest)
    if stage == "Tender notice" or notice.has(TENDER_TAGS):
        kind = "tender"
    elif stage.startswith("Preliminary market engagement"):
        kind = "market engagement"
    else:
        kind = "planned procurement"
    method = clean(tender.get("procurementMethodDetails"))
    regime = " (light touch regime)" if "lightTouch" in (tender.get("specialRegime") or []) else ""
    type_as_stated = "; ".join(p for p in (stage, method + regime if method else regime.strip(" ()")) if p)
    value_min, value_max = _gbp(tender.get("minValue")), _gbp(tender.get("value"))
    title, description = clean(tender.get("title")), shorten(tender.get("description"))
    value_json = {k: tender[k] for k in ("minValue", "value") if _gbp(tender.get(k)) is not None}
    excerpt = excerpt_for([value_min, value_max], [title, clean(tender.get("description"))], value_json)
    notes_value = []
    if value_min is not None:
        notes_value.append(f"minimum {pounds(value_min)}")
    if value_max is not None:
        notes_value.append(f"{'maximum' if value_min is not None else 'value'} {pounds(value_max)}")
    if isinstance(tender.get("value"), dict) and value_max is None:
        notes.append(f"value in {tender['value'].get('currency')}: not converted")
    coverage, coverage_note = coverage_of(compiled)
    if coverage_note:
        notes.append(coverage_note)
    area = service_area_of(compiled)
    if not area:
        notes.append("service_area: the notice's words fit no single area (or several): fill in or leave empty")
    buyer_id, buyer_name = buyer(compiled)
    source_title, source_url = source_of(notice, latest)
    status = clean(tender.get("status")) or "not stated"
    apply_url = clean(tender.get("submissionMethodDetails"))
    row = {
        "reference": notice.ocid,
        "ocid": notice.ocid,
        "title": title,
        "description": description or title,
        "buyer_or_funder": clean(buyer_name),
        "funder": selection.funder,
        "opportunity_type": kind,
        "type_as_stated": type_as_stated,
        "service_area": area,
        "eligible_applicants": _eligible(tender),
        "coverage": coverage,
        "value_min_gbp": number_text(value_min),
        "value_max_gbp": number_text(value_max),
        "value_note": ("; ".join(notes_value) + " (OCDS tender value)") if notes_value else "value not in the notice",
        "contract_or_grant_period": period_text(tender.get("contractPeriod")),
        "contract_start_date": _date((tender.get("contractPeriod") or {}).get("startDate")),
        "contract_end_date": _date((tender.get("contractPeriod") or {}).get("endDate")),
        "notice_date": _date(latest.get("date")),
        "future_notice_date": _date((tender.get("communication") or {}).get("futureNoticeDate")),
        "opening_date": _date((tender.get("tenderPeriod") or {}).get("startDate")),
        "closing_date": _date((tender.get("tenderPeriod") or {}).get("endDate")),
        "status_as_recorded": f"{stage} (tender status {status}), OCDS release {latest.get('id')} of "
                              f"{_day_text(_date(latest.get('date')))}",
        "how_to_apply_url": apply_url if re.match(r"^https?://\S+$", apply_url) else "",
        "source_title": source_title,
        "source_url": source_url,
        "source_excerpt": excerpt,
    }
    if not source_url:
        notes.append("source_url: the notice gives no web address: fill in")
    return Mapped("funding_opportunities", row, notice.ocid, str(latest.get("id")), notes, notice.ocid)


def _eligible(tender: dict) -> str:
    suitability = tender.get("suitability") or {}
    kinds = [name for name, flag in (("SMEs", suitability.get("sme")), ("VCSEs", suitability.get("vcse"))) if flag]
    return f"{' and '.join(kinds)} suitable (notice)" if kinds else ""


@dataclass
class Award:
    award: dict
    suppliers: list[str]
    value: Decimal | None
    period: dict


def awards_of(compiled: dict) -> list[Award]:
    """Awards that are not cancelled or unsuccessful, with their suppliers' names and value (the contract's where the
    award states none)."""
    contracts = {c.get("awardID"): c for c in compiled.get("contracts") or []}
    parties = {p.get("id"): p.get("name", "") for p in compiled.get("parties") or []}
    found = []
    for award in compiled.get("awards") or []:
        if award.get("status") in ("cancelled", "unsuccessful"):
            continue
        contract = contracts.get(award.get("id"), {})
        suppliers = [clean(s.get("name") or parties.get(s.get("id"), "")) for s in award.get("suppliers") or []]
        value = _gbp(award.get("value"))
        if value is None:
            value = _gbp(contract.get("value"))
        period = award.get("contractPeriod") or contract.get("period") or (compiled.get("tender") or {}).get(
            "contractPeriod") or {}
        found.append(Award(award, [s for s in suppliers if s], value, period))
    return found


def organisation_ids(organisations: Iterable[dict]) -> dict[str, str]:
    """normalised name -> organization_id, for matching suppliers with data/services/organizations.csv."""
    return {normalise(o.get("name", "")): o.get("organization_id", "") for o in organisations if o.get("name")}


def decision_rows(notice: Notice, selection: Selection, organisations: dict[str, str]) -> list[Mapped]:
    """funding_decisions rows: one per award and supplier (award and contract releases)."""
    latest = notice.latest(AWARD_TAGS)
    if latest is None:
        return []
    compiled, tender = notice.compiled, notice.compiled.get("tender") or {}
    area = service_area_of(compiled)
    theme = "Violence reduction" if selection.funder == "VRU" else THEMES.get(area, "")
    source_title, source_url = source_of(notice, latest)
    rows = []
    for award in awards_of(compiled):
        for supplier in award.suppliers or [""]:
            notes = ["record_id: given on accept"]
            if not theme:
                notes.append("theme: no rule tells from this notice: choose one before accepting")
            notes.append("programme: name the programme or funding stream before accepting")
            organization_id = organisations.get(normalise(supplier), "")
            if supplier and not organization_id:
                notes.append(f"recipient_organization_id: {supplier!r} is not in organizations.csv (add it, or "
                             "leave the id empty)")
            texts = [clean(award.award.get("description")), clean(tender.get("description"))]
            value_json = {"value": award.award["value"]} if _gbp(award.award.get("value")) is not None else {
                "contract value": {"amount": float(award.value), "currency": "GBP"}} if award.value is not None \
                else {}
            excerpt = excerpt_for([award.value], texts, value_json)
            row = {
                "record_id": "",
                "reference": notice.ocid,
                "organisation": {"MOPAC and VRU": "MOPAC/VRU"}.get(selection.funder, selection.funder),
                "item": clean(award.award.get("title")) or clean(tender.get("title")),
                "decision_by": "",
                "theme": theme,
                "programme": "",
                "recipient": supplier or "(supplier not named in the notice)",
                "recipient_organization_id": organization_id,
                "borough": "",
                "gss_code": "",
                "amount_gbp": number_text(award.value),
                "amount_as_stated": f"{pounds(award.value)} (OCDS award value)" if award.value is not None
                else "(no value in the notice)",
                "financial_years": period_text(award.period),
                "description": shorten(award.award.get("description") or tender.get("description")),
                "source_title": source_title,
                "source_url": source_url,
                "source_excerpt": excerpt,
            }
            key = f"{notice.ocid} {normalise(supplier)}"
            rows.append(Mapped("funding_decisions", row, notice.ocid, str(latest.get("id")), notes, key))
    return rows


def slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", normalise(text))).strip("-")[:60].strip("-") or "service"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def service_row(notice: Notice, selection: Selection, organisations: dict[str, str], taken_ids: set[str],
                today: dt.date) -> Mapped | None:
    """A services row for the service an award commissions (None before an award)."""
    latest = notice.latest(AWARD_TAGS)
    awards = awards_of(notice.compiled) if latest is not None else []
    if not awards:
        return None
    compiled, tender = notice.compiled, notice.compiled.get("tender") or {}
    notes = ["last_verified, review_due: set on accept"]
    suppliers = sorted({s for a in awards for s in a.suppliers})
    organization_id = organisations.get(normalise(suppliers[0]), "") if len(suppliers) == 1 else ""
    if len(suppliers) != 1:
        notes.append(f"organization_id: {len(suppliers)} suppliers ({'; '.join(suppliers) or 'none named'}): "
                     "one row per provider may be wanted")
    elif not organization_id:
        notes.append(f"organization_id: {suppliers[0]!r} is not in organizations.csv")
    area = service_area_of(compiled)
    if not area:
        notes.append("service_area: no single area follows from the notice's words: choose one before accepting")
    total = awards[0].value if len(awards) == 1 else None
    if len(awards) > 1:
        stated = [pounds(a.value) for a in awards if a.value is not None]
        value_note = f"{len(awards)} awards ({', '.join(stated) or 'no values stated'}); not summed"
    else:
        value_note = f"award value {pounds(total)} (OCDS award)" if total is not None else "no value in the notice"
    period = awards[0].period if len(awards) == 1 else tender.get("contractPeriod") or awards[0].period
    start, end = _date(period.get("startDate")), _date(period.get("endDate"))
    if end and parse_date(end) < today:
        status = "ended"
    elif start and parse_date(start) > today:
        status = "planned"
    elif start or end:
        status = "active"
    else:
        status = "unknown"
    coverage, coverage_note = coverage_of(compiled)
    if coverage_note:
        notes.append(coverage_note)
    value_json = {"value": awards[0].award["value"]} if total is not None and awards[0].award.get("value") else {}
    if total is not None and not value_json:
        value_json = {"contract value": {"amount": float(total), "currency": "GBP"}}
    excerpt = excerpt_for([total], [clean(awards[0].award.get("description")), clean(tender.get("description"))],
                          value_json)
    source_title, source_url = source_of(notice, latest)
    name = clean(tender.get("title")) or clean(awards[0].award.get("title"))
    row = {
        "service_id": slug(name, taken_ids),
        "name": name,
        "description": shorten(tender.get("description") or awards[0].award.get("description")) or name,
        "organization_id": organization_id,
        "commissioner": "VRU" if selection.funder == "VRU" else "MOPAC",
        "funding_stream": "",
        "service_area": area,
        "status": status,
        "annual_value_gbp": "",
        "total_value_gbp": number_text(total),
        "value_note": value_note,
        "start_date": start,
        "end_date": end,
        "eligibility": "",
        "how_to_refer": "",
        "url": "",
        "coverage": coverage,
        "decision_refs": notice.ocid,
        "funding_record_ids": "",
        "source_title": source_title,
        "source_url": source_url,
        "source_excerpt": excerpt,
        "last_verified": "",
        "review_due": "",
    }
    return Mapped("services", row, notice.ocid, str(latest.get("id")), notes, notice.ocid)


# ---------------------------------------------------------------------------------------------------------------
# 6. Proposals: compared with data/


@dataclass
class Proposal:
    target: str
    action: str  # add | update
    row: dict  # the full row in the target's columns
    ocid: str
    release_id: str
    reason: str
    key: str


# The facts a notice states that may change from one release to the next: an update proposes these (where the notice
# states them) and keeps every other column as the curator wrote it.
FACTS = {
    "funding_opportunities": ("value_min_gbp", "value_max_gbp", "contract_start_date", "contract_end_date",
                              "notice_date", "future_notice_date", "opening_date", "closing_date", "how_to_apply_url",
                              "ocid"),
    "funding_decisions": ("amount_gbp",),
    "services": ("start_date", "end_date"),
}
# Columns that follow a changed figure (its wording and the excerpt that states it).
WITH_FIGURES = {
    "funding_opportunities": ("value_note", "source_title", "source_url", "source_excerpt"),
    "funding_decisions": ("amount_as_stated", "source_title", "source_url", "source_excerpt"),
    "services": (),
}
FIGURES = {"funding_opportunities": ("value_min_gbp", "value_max_gbp"), "funding_decisions": ("amount_gbp",)}


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return Decimal(a) == Decimal(b)
    except ArithmeticError:
        return False


def _cites(row: dict, ocid: str) -> bool:
    """Whether a funding_decisions row cites the ocid: in its reference, source address or source title (a reference
    may be the ocid cut short, e.g. ocds-b5fd17-50c8186e)."""
    reference = row.get("reference", "")
    if any(ocid in row.get(column, "") for column in ("reference", "source_url", "source_title")):
        return True
    return reference.startswith((FTS_PREFIX, CF_PREFIX)) and len(reference) >= len(CF_PREFIX) + 6 and \
        ocid.startswith(reference)


def match(mapped: Mapped, rows: list[dict]) -> tuple[dict | None, str]:
    """The data row a mapped row is about, and how it was found: by ocid, else reference, else title."""
    ocid = mapped.ocid
    target = mapped.target
    if target == "funding_opportunities":
        for how, test in (("ocid", lambda r: r.get("ocid") == ocid),
                          ("reference", lambda r: r.get("reference") == ocid),
                          ("title", lambda r: normalise(r.get("title", "")) == normalise(mapped.row["title"]))):
            found = [r for r in rows if test(r)]
            if found:
                return found[0], how
        return None, ""
    if target == "services":
        for how, test in (("ocid", lambda r: ocid in re.split(r"[;\s()]+", r.get("decision_refs", ""))),
                          ("title", lambda r: normalise(r.get("name", "")) == normalise(mapped.row["name"]))):
            found = [r for r in rows if test(r)]
            if found:
                return found[0], how
        return None, ""
    # funding_decisions: rows citing the ocid (reference, source address or title), then the same recipient or amount
    citing = [r for r in rows if _cites(r, ocid)]
    how = "ocid"
    if not citing:
        citing = [r for r in rows if normalise(r.get("item", "")).startswith(normalise(mapped.row["item"]))]
        how = "title"
    row = mapped.row
    for r in citing:
        if row["recipient_organization_id"] and r.get("recipient_organization_id") == row["recipient_organization_id"]:
            return r, how + " and recipient"
        if row["recipient"] and normalise(row["recipient"]) and normalise(row["recipient"]) in normalise(
                r.get("recipient", "")):
            return r, how + " and recipient"
    for r in citing:
        if row["amount_gbp"] and _same(r.get("amount_gbp", ""), row["amount_gbp"]):
            return r, how + " and amount"
    return None, ""


def propose(mapped: Mapped, rows: list[dict]) -> Proposal | None:
    """An add (no row in data/ is about it), an update (facts the notice states differ), or None (nothing new)."""
    existing, how = match(mapped, rows)
    notes = "; ".join(mapped.notes)
    if existing is None:
        reason = f"new: no row in data/ has ocid {mapped.ocid}"
        return Proposal(mapped.target, "add", dict(mapped.row), mapped.ocid, mapped.release_id,
                        reason + (f". To check: {notes}" if notes else ""), mapped.key)
    if mapped.target == "funding_opportunities" and existing.get("notice_date") and mapped.row["notice_date"] and \
            mapped.row["notice_date"] < existing["notice_date"]:
        return None  # data/ already holds a later notice
    changes = []
    updated = dict(existing)
    for column in FACTS[mapped.target]:
        new, old = mapped.row.get(column, ""), existing.get(column, "")
        if new and not _same(new, old):
            changes.append(f"{column}: {old or '(empty)'} -> {new}")
            updated[column] = new
    if not changes:
        return None
    if any(c in [f.split(":")[0] for f in changes] for c in FIGURES.get(mapped.target, ())):
        for column in WITH_FIGURES[mapped.target]:
            updated[column] = mapped.row[column]
    if mapped.target == "funding_opportunities":
        updated["status_as_recorded"] = mapped.row["status_as_recorded"]
    reason = f"update (matched by {how}): " + "; ".join(changes)
    return Proposal(mapped.target, "update", updated, mapped.ocid, mapped.release_id, reason, mapped.key)
