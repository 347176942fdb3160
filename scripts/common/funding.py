"""What the build and the record pages agree on about funding decisions (issue 17): the financial years a decision
row's money is for, the references a service cites, and when a recipient's name is an organisation's.

A decision row states its years as free text (`financial_years`). Only a leading `YYYY/YY` (one financial year) or
`YYYY/YY-YYYY/YY` (a span) is read; anything else ("three years from 2019", "Apr 2020 - Sep 2021") is not a
financial year and is left unread rather than guessed. The amount of a span is never divided between its years:
no source says how it is split, so money is grouped under the span ("2019/20 to 2021/22").
"""

from __future__ import annotations

import re

# A financial year at the start of the text, optionally a span to a second one; then the end, a space or "(".
LEADING_YEARS = re.compile(r"^\s*(\d{4})/(\d{2})(?:\s*[-\u2013]\s*(\d{4})/(\d{2}))?(?=$|[\s(;,])")
NOT_STATED = "not stated as financial years"


def financial_year(start: int) -> str:
    """2019 -> '2019/20'."""
    return f"{start}/{str(start + 1)[-2:]}"


def _consecutive(start: str, end: str) -> bool:
    return (int(start) + 1) % 100 == int(end)


def parse_financial_years(text: str | None) -> tuple[int, int] | None:
    """(first, last) calendar years in which the first and the last financial year named begin, or None.

    '2020/21' -> (2020, 2020); '2019/20-2021/22 (two years)' -> (2019, 2021); 'from 2024' -> None. A year that is not
    a financial year ('2023/25') or a span that runs backwards makes the whole text unread (None)."""
    match = LEADING_YEARS.match(text or "")
    if not match:
        return None
    first_start, first_end, last_start, last_end = match.groups()
    if not _consecutive(first_start, first_end):
        return None
    if last_start is None:
        return int(first_start), int(first_start)
    if not _consecutive(last_start, last_end) or int(last_start) < int(first_start):
        return None
    return int(first_start), int(last_start)


def year_group(years: tuple[int, int] | None) -> str | None:
    """The label money is grouped under: '2020/21', or '2019/20 to 2021/22' for a span (not divided), or None."""
    if years is None:
        return None
    first, last = years
    return financial_year(first) if first == last else f"{financial_year(first)} to {financial_year(last)}"


def split_references(text: str | None) -> list[str]:
    """The references in a service's `decision_refs`, split on ';' outside brackets, trimmed, in order, once each.
    'MOPAC RJ (OCDS ocds-x; Find a Tender 1); MOPAC 946' -> ['MOPAC RJ (OCDS ocds-x; Find a Tender 1)', 'MOPAC 946']."""
    out, depth, current = [], 0, []
    for char in text or "":
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if char == ";" and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    seen, refs = set(), []
    for ref in (r.strip() for r in out):
        if ref and ref not in seen:
            seen.add(ref)
            refs.append(ref)
    return refs


IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def cited_identifiers(reference: str) -> set[str]:
    """The whole reference and every identifier-like word inside it (an OCID such as ocds-h6vhtk-0437b5 in
    'MOPAC RJ (OCDS ocds-h6vhtk-0437b5; ...)'), for matching a notice by its reference or OCID. Words are matched
    whole, never as parts of other words."""
    return {reference.strip(), *(w for w in IDENTIFIER.findall(reference) if "-" in w and any(c.isdigit() for c in w))}


def record_ids(text: str | None) -> list[int]:
    """The funding_decisions record_ids a service cites ('28;29' -> [28, 29]), in order, once each."""
    out = []
    for part in (text or "").split(";"):
        part = part.strip()
        if part.isdigit() and int(part) not in out:
            out.append(int(part))
    return out


def name_key(name: str | None) -> str:
    """How a recipient's name is compared with an organisation's: trimmed and case-folded."""
    return (name or "").strip().casefold()
