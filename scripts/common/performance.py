"""Six-month periods and the wording of an unrated measure, as the performance build and pages use them."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

NOT_MEASURED = "Not measured"


PERIOD_RE = re.compile(r"^(\d{4})-H([12])$")


@lru_cache(maxsize=4096)
def parse_period(period: str) -> tuple[int, int]:
    match = PERIOD_RE.match(period or "")
    if not match:
        raise ValueError(f"{period!r} is not a period in YYYY-H1 or YYYY-H2 form")
    return int(match.group(1)), int(match.group(2))


def duration_months(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    days = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1
    return max(round(days / 30.4375), 0)


