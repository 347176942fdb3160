"""Every calendar is valid RFC 5545 (issue 15, plugins/calendar_validity.py): each VEVENT has DTSTAMP and UID, each
TZID an event uses is defined by a VTIMEZONE, a calendar with no events still has a component; checked with the
icalendar library and with vobject's validator (which refuses a VEVENT without DTSTAMP)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
import vobject
from icalendar import Calendar

from plugins.calendar_validity import valid_calendar
from scripts.site import BUILD, load_metadata

BEFORE = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Datasette 0.65.5//datasette-ics//EN\r\nBEGIN:VEVENT\r\n"
          b"DTEND;TZID=Europe/London:20240423T000000\r\nDTSTART;TZID=Europe/London:20240422T000000\r\n"
          b"SUMMARY:Closing date\r\nUID:MOPAC RJ@london-commissioning-data\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def calendar_queries() -> list[tuple[str, str]]:
    """(database, canned query) of every query that datasette-ics can render (it returns event_* columns)."""
    found = []
    for database, config in (load_metadata().get("databases") or {}).items():
        for name, query in (config.get("queries") or {}).items():
            sql = query["sql"] if isinstance(query, dict) else query
            if "event_dtstart" in sql and "event_name" in sql:
                found.append((database, name))
    return found


def check_valid(body: bytes) -> Calendar:
    calendar = Calendar.from_ical(body)
    used = set()
    for event in calendar.walk("VEVENT"):
        assert "DTSTAMP" in event and "UID" in event
        assert event.decoded("DTSTAMP").utcoffset() == dt.timedelta(0)
        for name in ("DTSTART", "DTEND"):
            if name in event and "TZID" in event[name].params:
                used.add(event[name].params["TZID"])
    defined = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert used <= defined, used - defined
    assert calendar.subcomponents, "a VCALENDAR needs at least one component"
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    assert vobject.readOne(body.decode("utf-8")).validate(raiseException=True)
    return calendar


def test_the_calendar_datasette_ics_wrote_was_invalid_and_is_made_valid():
    with pytest.raises(Exception, match="DTSTAMP"):
        vobject.readOne(BEFORE.decode()).validate(raiseException=True)
    fixed = valid_calendar(BEFORE, dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    calendar = check_valid(fixed)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("DTSTAMP") == dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    assert str(event["UID"]) == "MOPAC RJ@london-commissioning-data"
    assert event.decoded("DTSTART") == dt.datetime(2024, 4, 22, tzinfo=event.decoded("DTSTART").tzinfo)


def test_empty_calendar_gets_a_component():
    empty = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nEND:VCALENDAR\r\n"
    check_valid(valid_calendar(empty, dt.datetime(2026, 11, 25, tzinfo=dt.UTC)))


def build_date(database: str) -> dt.datetime:
    db = sqlite3.connect(f"file:{BUILD / (database + '.db')}?immutable=1", uri=True)
    (value,) = db.execute("select value from build_info where key = 'build_date'").fetchone()
    return dt.datetime.fromisoformat(value[:10]).replace(tzinfo=dt.UTC)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("database,query", calendar_queries())
@pytest.mark.parametrize("params", [{}, {"borough": "E09000008", "service_area": "victims"},
                                    {"borough": "Nowhere", "service_area": "none"}, {"_plain": "1"}])
async def test_every_calendar_the_site_serves_is_valid(datasette, database, query, params):
    response = await datasette.client.get(f"/{database}/{query}.ics", params=params)
    assert response.status_code == 200, response.text[:300]
    calendar = check_valid(response.content)
    for event in calendar.walk("VEVENT"):
        assert event.decoded("DTSTAMP") == build_date(database)


def test_there_are_calendars():
    assert len(calendar_queries()) >= 3
