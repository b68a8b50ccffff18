"""Data fidelity: what a client stores is what it gets back."""

import caldav

from support import VTIMEZONE_BERLIN, lines_named, new_client, reopen, unfold, unique

# No characters that iCalendar escapes in the summary, so its line can be compared as bytes.
NON_ASCII_SUMMARY = "Café-Treffen ☕ — Grüße aus Zürich: 日本語の会議 🎉 Ωmega"
# Commas must be escaped on the wire (RFC 5545 3.3.11); compared after parsing.
NON_ASCII_LOCATION = "Straße 5, Åre, Łódź"


def test_non_ascii_summary_round_trip(server, scratch_calendar):
    uid = unique("conf-utf8")
    ics = (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Kalends conformance//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\n"
        "DTSTAMP:20250101T120000Z\r\n"
        "DTSTART:20250402T140000Z\r\n"
        "DTEND:20250402T150000Z\r\n"
        f"SUMMARY:{NON_ASCII_SUMMARY}\r\n"
        "LOCATION:" + NON_ASCII_LOCATION.replace(",", "\\,") + "\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    scratch_calendar.add_event(ics)

    # Through a calendar-query REPORT (the data travels inside XML) ...
    found = reopen(server, scratch_calendar).get_event_by_uid(uid)
    assert str(found.get_icalendar_component()["SUMMARY"]) == NON_ASCII_SUMMARY
    assert NON_ASCII_SUMMARY.encode("utf-8") in b"\n".join(unfold(found.raw_data))

    # ... and through a plain GET (the body is the iCalendar text itself).
    found.load()
    raw = found.raw_data
    assert raw is not None
    raw.decode("utf-8")  # must be valid UTF-8
    assert lines_named(raw, b"SUMMARY") == [b"SUMMARY:" + NON_ASCII_SUMMARY.encode("utf-8")]
    comp = found.get_icalendar_component()
    assert str(comp["SUMMARY"]) == NON_ASCII_SUMMARY
    assert str(comp["LOCATION"]) == NON_ASCII_LOCATION


def test_non_ascii_calendar_name_round_trip(server, principal):
    cid = unique("conf-utf8cal")
    name = f"Kalender für Müller 📅 {cid}"
    cal = principal.make_calendar(name=name, cal_id=cid)
    try:
        listed = {
            str(c.url.canonical()): c for c in new_client(server).principal().get_calendars()
        }
        assert listed[str(cal.url.canonical())].get_display_name() == name
    finally:
        cal.delete(wipe=False)


# A weekly event in Europe/Berlin across the DST change of 30 March 2025, with
# an exception date. The lines below must come back exactly as sent.
RECURRING_LINES = {
    b"DTSTART": b"DTSTART;TZID=Europe/Berlin:20250303T093000",
    b"DTEND": b"DTEND;TZID=Europe/Berlin:20250303T103000",
    b"RRULE": b"RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20250630T075959Z",
    b"EXDATE": b"EXDATE;TZID=Europe/Berlin:20250317T093000",
}


def test_recurring_event_with_tzid_survives_byte_for_byte(server, scratch_calendar):
    uid = unique("conf-rrule")
    ics = (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Kalends conformance//EN\r\n"
        + VTIMEZONE_BERLIN
        + "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\n"
        "DTSTAMP:20250101T120000Z\r\n"
        + "".join(line.decode() + "\r\n" for line in RECURRING_LINES.values())
        + "SUMMARY:Fortnightly stand-up\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    # save(raw_data=...) PUTs these exact bytes. add_event() would re-serialise
    # them through the icalendar library first, which reorders RRULE parts.
    created = caldav.Event(client=scratch_calendar.client, parent=scratch_calendar)
    created.save(raw_data=ics.encode("utf-8"))
    assert created.url is not None

    ev = reopen(server, scratch_calendar).get_event_by_uid(uid)
    assert ev.url.canonical() == created.url.canonical()
    ev.load()
    raw = ev.raw_data
    assert raw is not None

    # Only the VEVENT's own lines count; the VTIMEZONE has DTSTART/RRULE too.
    lines = unfold(raw)
    begin = lines.index(b"BEGIN:VEVENT")
    end = lines.index(b"END:VEVENT", begin)
    vevent = b"\r\n".join(lines[begin : end + 1])
    for name, expected in RECURRING_LINES.items():
        assert lines_named(vevent, name) == [expected], f"{name.decode()} changed in {vevent!r}"

    # The VTIMEZONE it refers to is still there (no timezone-by-reference was asked for).
    assert b"BEGIN:VTIMEZONE" in lines
    assert b"TZID:Europe/Berlin" in lines
    assert lines.count(b"BEGIN:VEVENT") == 1, "the series must not be expanded on GET"
