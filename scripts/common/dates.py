"""Dates, durations and review status, as the build derives them and the pages show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

REVIEW_MONTHS = 6


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def parse_date(value) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


@dataclass
class Duration:
    days: int | None
    months: float | None
    text: str


def duration(start, end) -> Duration:
    """Inclusive length of a stated period. Whole calendar months when the period ends the day before a monthly
    anniversary of its start (1 April 2019 - 31 March 2021 = 24 months); otherwise days / 30.4375 to one decimal."""
    start, end = parse_date(start), parse_date(end)
    if start and not end:
        return Duration(None, None, f"from {start.isoformat()}, no end date stated")
    if end and not start:
        return Duration(None, None, f"until {end.isoformat()}, no start date stated")
    if not start or not end:
        return Duration(None, None, "")
    days = (end - start).days + 1
    after = end + dt.timedelta(days=1)
    whole = (after.year - start.year) * 12 + after.month - start.month
    if add_months(start, whole) == after:
        months: float = whole
        if whole % 12 == 0:
            years = whole // 12
            text = f"{years} year{'s' if years != 1 else ''}"
        else:
            text = f"{whole} month{'s' if whole != 1 else ''}"
    else:
        months = round(days / 30.4375, 1)
        text = f"{days} days (about {months:g} months)"
    return Duration(days, months, text)


def needs_review(last_verified, review_due, today: dt.date) -> str | None:
    """Why a row needs checking again, or None: past review_due, or not verified for six months."""
    due = parse_date(review_due)
    verified = parse_date(last_verified)
    if due and due < today:
        return "review overdue"
    if verified is None or add_months(verified, REVIEW_MONTHS) <= today:
        return "not verified for six months"
    return None


