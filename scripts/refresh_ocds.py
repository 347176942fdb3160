"""Read OCDS notices and propose additions and changes to data/ for a curator to review (`make refresh OCDS=...`).

    python -m scripts.refresh_ocds SOURCE [SOURCE ...] [--release-schema PATH_OR_URL] [--data data] [--inbox DIR]

SOURCE is a file or an http(s) address of an OCDS release package, record package, release, record, or JSON lines of
any of these. From an address, the pages a package links with `links.next` (the OCDS pagination extension, as Find a
Tender and Contracts Finder use) are read too, up to --max-pages.

Proposals go to DIR/<target>.csv (default data/inbox/): the columns of data/mopac/funding_opportunities.csv,
data/mopac/funding_decisions.csv or data/services/services.csv, then ocid, release_id, proposed_action (add or
update), reason and review (empty: the curator writes accept or reject). Nothing in data/ outside the inbox is
written. MOPAC notices left out as operational procurement are listed in DIR/left_out.csv for a glance.
When an input is not JSON, not OCDS, or breaks the OCDS structure, every problem is printed, the exit status is 1 and
nothing is written. See docs/keeping-current.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from scripts.publication import ocds
from scripts.publication.package import PackageError, load_package

TARGETS = ("funding_opportunities", "funding_decisions", "services")
EXTRA_COLUMNS = ("ocid", "release_id", "proposed_action", "reason", "review")
LEFT_OUT_COLUMNS = ("ocid", "release_id", "buyer", "title", "cpv", "reason")
REJECTED = "rejected.csv"
REJECTED_COLUMNS = ("target", "ocid", "release_id", "key", "rejected_on", "reason")
USER_AGENT = "london-commissioning-data-refresh/1.0 (open data on MOPAC and VRU commissioning)"
URL = re.compile(r"^(https?|file)://", re.IGNORECASE)


def read_source(source: str, timeout: float = 60) -> bytes:
    if URL.match(source):
        request = urllib.request.Request(source, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http, https or file)
                return response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ocds.OCDSError([f"{source}: cannot fetch: {exc}"]) from None
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ocds.OCDSError([f"{source}: cannot read: {exc.strerror or exc}"]) from None


def read_documents(source: str, max_pages: int) -> list[ocds.Document]:
    """Every document of a source and, for an address, of the pages it links with links.next."""
    documents, seen, address, page = [], set(), source, 1
    while True:
        label = source if page == 1 else f"{address} (page {page} of {source})"
        found = ocds.parse_documents(read_source(address), label)
        documents.extend(found)
        seen.add(address)
        following = [d.data.get("links", {}).get("next") for d in found
                     if d.kind.endswith("package") and isinstance(d.data.get("links"), dict)]
        following = [u for u in following if isinstance(u, str) and u and u not in seen]
        if not URL.match(source) or not following:
            return documents
        if page >= max_pages:
            print(f"note: stopped after {max_pages} pages of {source} (--max-pages); later pages not read",
                  file=sys.stderr)
            return documents
        address, page = following[0], page + 1


def load_json_source(source: str) -> dict:
    try:
        value = json.loads(read_source(source).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ocds.OCDSError([f"{source}: the release schema is not JSON: {exc}"]) from None
    if not isinstance(value, dict) or "properties" not in value:
        raise ocds.OCDSError([f"{source}: not a JSON Schema of an OCDS release (no properties)"])
    return value


def read_csv_rows(path: Path) -> tuple[list[str], list[dict]]:
    if not path.exists():
        return [], []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), [dict(r) for r in reader]


def inbox_columns(fields: list[str]) -> list[str]:
    return fields + [c for c in EXTRA_COLUMNS if c not in fields]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write atomically (a temporary file beside it, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def merge_inbox(existing: list[dict], proposals: list[ocds.Proposal], key_of,
                settled: frozenset[str] = frozenset()) -> tuple[list[dict], int]:
    """The inbox after a refresh: existing rows stay unless a proposal about the same thing replaces them. A row a
    curator has marked (review column) is kept when the new proposal comes from the same release; a newer release
    replaces it and clears the mark, since the review was of the older notice. An unmarked row about something data/
    now holds as the notice says (`settled` keys) is dropped. Returns (rows, replaced count)."""
    rows = [r for r in existing if r.get("review", "").strip() or key_of(r) not in settled]
    index = {key_of(r): i for i, r in enumerate(rows)}
    replaced = 0
    for proposal in proposals:
        new = {**proposal.row, "ocid": proposal.ocid, "release_id": proposal.release_id,
               "proposed_action": proposal.action, "reason": proposal.reason, "review": ""}
        at = index.get(proposal.key)
        if at is None:
            index[proposal.key] = len(rows)
            rows.append(new)
            continue
        old = rows[at]
        if old.get("review", "").strip() and old.get("release_id") == proposal.release_id:
            continue
        if old.get("review", "").strip():
            new["reason"] += (f" (replaces a proposal from release {old.get('release_id')} marked "
                              f"{old['review'].strip()!r}: review again)")
        rows[at] = new
        replaced += 1
    return rows, replaced


def proposal_key(target: str, row: dict) -> str:
    """The same key ocds.Mapped.key gives, from an inbox row."""
    if target == "funding_decisions":
        recipient = row.get("recipient", "")
        named = "" if recipient.startswith("(") else ocds.normalise(recipient)
        return f"{row.get('ocid', '')} {named}"
    return row.get("ocid", "")


def refresh(sources: list[str], data: Path, inbox: Path, release_schema: str | None, today: dt.date,
            max_pages: int = 200, out=sys.stdout) -> int:
    try:
        package = load_package(data)
    except PackageError as exc:
        print(exc, file=sys.stderr)
        return 1
    missing = [t for t in TARGETS if t not in package.resources]
    if missing:
        print(f"{data}/datapackage.json: no resource {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        validator, merge_rules = None, None
        if release_schema:
            import jsonschema
            from ocdsmerge.rules import get_merge_rules

            schema = load_json_source(release_schema)
            validator = jsonschema.Draft4Validator(schema)
            merge_rules = get_merge_rules(schema)
        documents = [d for source in sources for d in read_documents(source, max_pages)]
        problems = [p for d in documents for p in ocds.check_document(d, validator)]
        if problems:
            raise ocds.OCDSError(problems)
        notices = ocds.compile_notices(documents, merge_rules)
    except ocds.OCDSError as error:
        shown = error.problems[:50]
        for problem in shown:
            print(problem, file=sys.stderr)
        if len(error.problems) > len(shown):
            print(f"... and {len(error.problems) - len(shown)} more", file=sys.stderr)
        print(f"refresh refused: {len(error.problems)} problem(s) in the OCDS input; nothing was written",
              file=sys.stderr)
        return 1

    resources = {t: package.resources[t] for t in TARGETS}
    rows = {t: read_csv_rows(resources[t].path)[1] for t in TARGETS}
    organisations = ocds.organisation_ids(read_csv_rows(package.resources["organizations"].path)[1]) \
        if "organizations" in package.resources else {}
    taken_ids = {r.get("service_id", "") for r in rows["services"]}
    _, rejected = read_csv_rows(inbox / REJECTED)
    rejected_keys = {(r.get("target"), r.get("key"), r.get("release_id")) for r in rejected}

    proposals: dict[str, list[ocds.Proposal]] = {t: [] for t in TARGETS}
    settled: dict[str, set[str]] = {t: set() for t in TARGETS}
    left_out, kept, unchanged, skipped = [], 0, 0, 0
    other_buyers = 0
    for notice in notices:
        selection = ocds.select(notice)
        if not selection.keep:
            if selection.excluded_as == "other buyer":
                other_buyers += 1
            else:
                latest = notice.latest() or {}
                left_out.append({"ocid": notice.ocid, "release_id": latest.get("id", ""),
                                 "buyer": ocds.buyer(notice.compiled)[1],
                                 "title": ocds.clean((notice.compiled.get("tender") or {}).get("title")),
                                 "cpv": " ".join(ocds.cpv_codes(notice.compiled)), "reason": selection.reason})
            continue
        kept += 1
        mapped = []
        opportunity = ocds.opportunity_row(notice, selection)
        if opportunity:
            mapped.append(opportunity)
        mapped += ocds.decision_rows(notice, selection, organisations)
        service = ocds.service_row(notice, selection, organisations, taken_ids, today)
        if service:
            mapped.append(service)
            taken_ids.add(service.row["service_id"])
        for item in mapped:
            item.notes.insert(0, f"kept: {selection.reason}")
            proposal = ocds.propose(item, rows[item.target])
            if proposal is None:
                unchanged += 1
                settled[item.target].add(item.key)
            elif (item.target, item.key, item.release_id) in rejected_keys:
                skipped += 1
            else:
                proposals[item.target].append(proposal)

    written = []
    for target in TARGETS:
        path = inbox / f"{target}.csv"
        _, existing = read_csv_rows(path)
        merged, _ = merge_inbox(existing, proposals[target], lambda r, t=target: proposal_key(t, r),
                                frozenset(settled[target]))
        if merged:
            write_csv(path, inbox_columns(resources[target].field_names), merged)
            written.append(f"{path} ({len(proposals[target])} new or changed, {len(merged)} in all)")
        elif path.exists():
            path.unlink()  # every row it held is now in data/ as the notices say
    left_out_path = inbox / "left_out.csv"
    if left_out:
        write_csv(left_out_path, list(LEFT_OUT_COLUMNS), left_out)
    elif left_out_path.exists():
        left_out_path.unlink()

    releases = sum(len(n.releases) for n in notices)
    print(f"read {len(documents)} OCDS document(s): {releases} release(s) in {len(notices)} contracting process(es)",
          file=out)
    print(f"kept {kept} MOPAC/VRU service notice(s); left out {other_buyers} of other buyers and {len(left_out)} "
          "MOPAC operational notice(s)" + (f" (listed in {left_out_path})" if left_out else ""), file=out)
    counts = ", ".join(f"{t}: {sum(p.action == 'add' for p in proposals[t])} add, "
                       f"{sum(p.action == 'update' for p in proposals[t])} update" for t in TARGETS)
    print(f"proposed {counts}; {unchanged} already as in data/" + (
        f"; {skipped} rejected before" if skipped else ""), file=out)
    for line in written:
        print(f"wrote {line}", file=out)
    if written:
        print("next: review each row (write accept or reject in its review column), then: make accept", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="OCDS file or http(s) address")
    parser.add_argument("--data", type=Path, default=Path("data"), help="data package folder (default: data)")
    parser.add_argument("--inbox", type=Path, help="where proposals go (default: DATA/inbox)")
    parser.add_argument("--release-schema", metavar="PATH_OR_URL",
                        help="OCDS 1.1 release schema to validate every release against (and take merge rules from), "
                             "e.g. https://standard.open-contracting.org/schema/1__1__5/release-schema.json; without "
                             "it only the structure the OCDS schemas require is checked")
    parser.add_argument("--today", type=dt.date.fromisoformat,
                        default=dt.date.fromisoformat(os.environ["BUILD_DATE"]) if os.environ.get("BUILD_DATE")
                        else dt.date.today(),
                        help="date for a proposed service's status (default: $BUILD_DATE or today)")
    parser.add_argument("--max-pages", type=int, default=200, help="pages to follow from an address (default 200)")
    args = parser.parse_args(argv)
    inbox = args.inbox or args.data / "inbox"
    return refresh(args.sources, args.data, inbox, args.release_schema, args.today, args.max_pages)


if __name__ == "__main__":
    sys.exit(main())
