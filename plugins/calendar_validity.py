"""Every calendar the site sends is valid RFC 5545 (issue 15).

The `.ics` feeds are canned queries rendered by datasette-ics 0.5.2, whose events have no DTSTAMP (required in every
VEVENT) and whose times say `TZID=Europe/London` with no VTIMEZONE to define it; a feed with no events is a VCALENDAR
with no component at all, which the grammar does not allow. Each calendar response is rewritten as it leaves, with the
icalendar library:
- every VEVENT without DTSTAMP gets one: midnight UTC of the database's build date (`build_info.build_date`, when the
  published data last changed), so the feed is the same on every request between builds;
- a VTIMEZONE, generated from the IANA database, for every TZID the events use (covering the events' years), and for
  Europe/London in a calendar with no events;
- lines folded at 75 octets with CRLF endings (icalendar writes them so).
A response is a calendar when its content type is `text/calendar`, or `text/plain` for an address ending in .ics
(datasette-ics's `_plain`).
"""

from __future__ import annotations

import datetime as dt

import icalendar
from datasette import hookimpl

DEFAULT_TZID = "Europe/London"


def valid_calendar(body: bytes, stamp: dt.datetime) -> bytes:
    calendar = icalendar.Calendar.from_ical(body)
    years = []
    for event in calendar.walk("VEVENT"):
        if "DTSTAMP" not in event:
            event.add("dtstamp", stamp)
        for name in ("DTSTART", "DTEND"):
            if name in event:
                years.append(event.decoded(name).year)
    first = dt.date(min(years) - 1, 1, 1) if years else dt.date(stamp.year - 1, 1, 1)
    last = dt.date(max(years) + 2, 1, 1) if years else dt.date(stamp.year + 2, 1, 1)
    if not calendar.subcomponents:
        calendar.add_component(icalendar.Timezone.from_tzid(DEFAULT_TZID, first_date=first, last_date=last))
    calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


async def build_stamp(datasette, path: str) -> dt.datetime:
    """Midnight UTC of the build date of the database the address belongs to; now, if it has none."""
    route = path.lstrip("/").split("/", 1)[0]
    for db in datasette.databases.values():
        if (getattr(db, "route", None) or db.name) == route and "build_info" in await db.table_names():
            row = (await db.execute("select value from build_info where key = 'build_date'")).first()
            if row and row[0]:
                try:
                    return dt.datetime.fromisoformat(str(row[0])[:10]).replace(tzinfo=dt.UTC)
                except ValueError:
                    break
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def is_calendar(path: str, headers) -> bool:
    for key, value in headers:
        if key.lower() == b"content-type":
            value = value.lower()
            return value.startswith(b"text/calendar") or (value.startswith(b"text/plain") and path.endswith(".ics"))
    return False


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def validated(scope, receive, send):
            if scope["type"] != "http" or not scope.get("path", "").endswith(".ics"):
                await app(scope, receive, send)
                return
            state = {"start": None, "chunks": []}

            async def rewrite(message):
                if message["type"] == "http.response.start":
                    if message["status"] == 200 and is_calendar(scope["path"], message.get("headers") or []):
                        state["start"] = message
                        return
                elif message["type"] == "http.response.body" and state["start"] is not None:
                    state["chunks"].append(message.get("body", b""))
                    if message.get("more_body", False):
                        return
                    body = b"".join(state["chunks"])
                    if body:
                        body = valid_calendar(body, await build_stamp(datasette, scope["path"]))
                    headers = [(k, v) for k, v in state["start"].get("headers") or []
                               if k.lower() != b"content-length"]
                    await send({**state["start"], "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
                await send(message)

            await app(scope, receive, rewrite)

        return validated

    return wrap
