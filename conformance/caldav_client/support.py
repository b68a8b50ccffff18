"""Helpers shared by the test modules (imported by conftest.py and the tests)."""

import contextlib
import uuid
from dataclasses import dataclass, field

import caldav


@dataclass(frozen=True)
class Server:
    url: str
    user: str
    password: str = field(repr=False)
    layout: str = "kalends"


def new_client(server: Server, *, url=None, username=None, password=None) -> caldav.DAVClient:
    """A fresh client, so nothing is served from a previous client's cache."""
    return caldav.DAVClient(
        url=url or server.url,
        username=server.user if username is None else username,
        password=server.password if password is None else password,
        features={},
        timeout=30,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def reopen(server: Server, collection) -> caldav.Calendar:
    """The same calendar, seen through a brand-new client connection."""
    return caldav.Calendar(client=new_client(server), url=collection.url)


def unfold(raw: bytes) -> list[bytes]:
    """iCalendar content lines of raw bytes, unfolded (RFC 5545 3.1), without CRLF."""
    text = raw.replace(b"\r\n", b"\n")
    text = text.replace(b"\n ", b"").replace(b"\n\t", b"")
    return [line for line in text.split(b"\n") if line]


def lines_named(raw: bytes, name: bytes) -> list[bytes]:
    """The unfolded content lines whose property name is `name` (params included)."""
    out = []
    for line in unfold(raw):
        head = line.split(b":", 1)[0]
        if head.split(b";", 1)[0].upper() == name.upper():
            out.append(line)
    return out


def event_ics(uid: str, summary: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Kalends conformance//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\n"
        "DTSTAMP:20250101T120000Z\r\n"
        "DTSTART:20250310T090000Z\r\n"
        "DTEND:20250310T100000Z\r\n"
        f"SUMMARY:{summary}\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


def todo_ics(uid: str, summary: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Kalends conformance//EN\r\n"
        "BEGIN:VTODO\r\n"
        f"UID:{uid}\r\n"
        "DTSTAMP:20250101T120000Z\r\n"
        "DUE:20250320T170000Z\r\n"
        "STATUS:NEEDS-ACTION\r\n"
        f"SUMMARY:{summary}\r\n"
        "END:VTODO\r\n"
        "END:VCALENDAR\r\n"
    )


# Europe/Berlin as clients send it: CET/CEST with the EU rules since 1996.
VTIMEZONE_BERLIN = (
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\n"
    "TZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "TZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


def vcalendar(*components: str, timezones: str = "") -> str:
    """A VCALENDAR around already formatted components (each ending in CRLF)."""
    return (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Kalends conformance//EN\r\n"
        + timezones
        + "".join(components)
        + "END:VCALENDAR\r\n"
    )


def component(name: str, *lines: str) -> str:
    """BEGIN:name, the content lines (without CRLF), END:name."""
    return "".join(f"{line}\r\n" for line in (f"BEGIN:{name}", *lines, f"END:{name}"))


def store_raw(cal, ics: str, cls=caldav.Event):
    """PUT these exact bytes as a new object of `cal` (save(raw_data=...)).

    add_event()/add_todo() would re-serialise the text through the icalendar
    library first. With raw_data the server gets exactly what the test wrote,
    so a wrong answer can be traced to the bytes the server stored.
    """
    obj = cls(client=cal.client, parent=cal)
    obj.save(raw_data=ics.encode("utf-8"))
    assert obj.url is not None, "save() gave the new object no URL"
    return obj


@contextlib.contextmanager
def filled_calendar(server: Server, prefix: str, title: str, texts, cls=caldav.Event, **make):
    """A fresh calendar `conf-…` holding `texts` stored byte for byte (store_raw), deleted with
    its objects afterwards; `make` goes to make_calendar (e.g. the component set)."""
    client = new_client(server)
    cid = unique(prefix)
    cal = client.principal().make_calendar(name=f"{title} {cid}", cal_id=cid, **make)
    try:
        for ics in texts:
            store_raw(cal, ics, cls)
        yield cal
    finally:
        cal.delete(wipe=False)
        client.close()


def uids(objects) -> list[str]:
    """The UIDs of search results, sorted; one entry per returned object."""
    return sorted(str(o.icalendar_component["UID"]) for o in objects)
