"""Calendar.freebusy_request(): the CALDAV:free-busy-query REPORT (RFC 4791 section 7.10).

The calendar holds, in the week of 5 May 2025 (window 5 May 00:00Z to 12 May 00:00Z):

  opaque       5 May 09:00-10:00Z, TRANSP:OPAQUE, STATUS:CONFIRMED  -> BUSY
  transparent  5 May 11:00-12:00Z, TRANSP:TRANSPARENT              -> nothing
  cancelled    5 May 13:00-14:00Z, STATUS:CANCELLED                -> nothing
  tentative    5 May 15:00-16:00Z, STATUS:TENTATIVE                -> BUSY-TENTATIVE
  recurring    08:00-08:30 Europe/Berlin (06:00Z, CEST) every other day from
               3 May, six times: 3 May is before the window and 13 May after
               it; 5, 7, 9 and 11 May are in it                   -> BUSY x4
  allday       10 May, DATE values; read in UTC, as the calendar has no
               CALDAV:calendar-timezone                            -> BUSY 10 May 00:00Z-11 May 00:00Z
  outside      13 May 09:00-10:00Z                                 -> nothing

No two of these periods overlap or touch, so coalescing (section 7.10: servers
SHOULD coalesce) cannot change the expected answer.

freebusy_request() sends the REPORT with the range as given and returns the
VCALENDAR the server sent as a FreeBusy object; the library does no filtering
of its own here, so every period below is the server's.
"""

from datetime import datetime, timedelta, timezone

import caldav
import pytest

from support import VTIMEZONE_BERLIN, component, filled_calendar, reopen, unfold, unique, vcalendar


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


START, END = utc(2025, 5, 5), utc(2025, 5, 12)
STAMP = "DTSTAMP:20250101T120000Z"


def event(uid, *lines, timezones=""):
    return vcalendar(component("VEVENT", f"UID:{uid}", STAMP, *lines), timezones=timezones)


def corpus() -> list[str]:
    def uid(key):
        return unique(f"conf-fb-{key}")

    return [
        event(uid("opaque"), "DTSTART:20250505T090000Z", "DTEND:20250505T100000Z",
              "TRANSP:OPAQUE", "STATUS:CONFIRMED", "SUMMARY:Opaque meeting"),
        event(uid("transparent"), "DTSTART:20250505T110000Z", "DTEND:20250505T120000Z",
              "TRANSP:TRANSPARENT", "SUMMARY:Transparent reminder"),
        event(uid("cancelled"), "DTSTART:20250505T130000Z", "DTEND:20250505T140000Z",
              "STATUS:CANCELLED", "SUMMARY:Cancelled meeting"),
        event(uid("tentative"), "DTSTART:20250505T150000Z", "DTEND:20250505T160000Z",
              "STATUS:TENTATIVE", "SUMMARY:Tentative meeting"),
        event(uid("recurring"), "DTSTART;TZID=Europe/Berlin:20250503T080000",
              "DTEND;TZID=Europe/Berlin:20250503T083000", "RRULE:FREQ=DAILY;INTERVAL=2;COUNT=6",
              "SUMMARY:Every other morning", timezones=VTIMEZONE_BERLIN),
        event(uid("allday"), "DTSTART;VALUE=DATE:20250510", "DTEND;VALUE=DATE:20250511",
              "SUMMARY:All-day workshop"),
        event(uid("outside"), "DTSTART:20250513T090000Z", "DTEND:20250513T100000Z",
              "SUMMARY:After the window"),
    ]


def hour(day, h, m=0):
    return utc(2025, 5, day, h, m)


EXPECTED = sorted([
    ("BUSY", hour(5, 9), hour(5, 10)),
    ("BUSY-TENTATIVE", hour(5, 15), hour(5, 16)),
    ("BUSY", hour(5, 6), hour(5, 6, 30)),
    ("BUSY", hour(7, 6), hour(7, 6, 30)),
    ("BUSY", hour(9, 6), hour(9, 6, 30)),
    ("BUSY", hour(11, 6), hour(11, 6, 30)),
    ("BUSY", hour(10, 0), hour(11, 0)),
], key=lambda p: p[1])


@pytest.fixture(scope="module")
def busy_calendar(server):
    with filled_calendar(server, "conf-fb", "Conformance free/busy", corpus()) as cal:
        yield cal


def periods(fb) -> list[tuple[str, datetime, datetime]]:
    """(FBTYPE, start, end) of every FREEBUSY period of the one VFREEBUSY, in UTC."""
    vfbs = fb.icalendar_instance.walk("VFREEBUSY")
    assert len(vfbs) == 1, f"expected one VFREEBUSY: {fb.data}"
    props = vfbs[0].get("FREEBUSY", [])
    if not isinstance(props, list):
        props = [props]
    out = []
    for p in props:
        start, end_or_duration = p.dt
        end = start + end_or_duration if isinstance(end_or_duration, timedelta) else end_or_duration
        for v in (start, end):
            assert v.tzinfo is not None and v.utcoffset() == timedelta(0), f"{p.to_ical()!r} not in UTC"
        out.append((str(p.params.get("FBTYPE", "BUSY")).upper(), start, end))
    return sorted(out, key=lambda x: x[1])


def test_freebusy_periods(server, busy_calendar):
    fb = reopen(server, busy_calendar).freebusy_request(START, END)
    assert isinstance(fb, caldav.FreeBusy)
    assert periods(fb) == EXPECTED, fb.data

    # RFC 5545 3.8.2.6: FREEBUSY values are in UTC; every period line says so.
    data = fb.data
    for line in unfold(data.encode() if isinstance(data, str) else data):
        if line.split(b":", 1)[0].split(b";", 1)[0] == b"FREEBUSY":
            for period in line.split(b":", 1)[1].split(b","):
                assert period.split(b"/", 1)[0].endswith(b"Z"), line


def test_freebusy_part_of_the_range(server, busy_calendar):
    """A narrower window: only 7-9 May, so two of the recurring instances."""
    fb = reopen(server, busy_calendar).freebusy_request(utc(2025, 5, 7), utc(2025, 5, 9, 12))
    assert periods(fb) == [
        ("BUSY", hour(7, 6), hour(7, 6, 30)),
        ("BUSY", hour(9, 6), hour(9, 6, 30)),
    ], fb.data


def test_freebusy_of_an_empty_range(server, busy_calendar):
    """4 May has nothing: the instance on 3 May is the day before, the next one on 5 May."""
    fb = reopen(server, busy_calendar).freebusy_request(utc(2025, 5, 4), utc(2025, 5, 5))
    assert periods(fb) == [], fb.data
