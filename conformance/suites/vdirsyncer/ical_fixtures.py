"""The iCalendar objects the vdirsyncer suite syncs, built line by line.

Every object is returned as bytes exactly as it goes into the vdir: UTF-8,
CRLF line ends, content lines folded at 75 octets (RFC 5545 §3.1) without
splitting a UTF-8 sequence. Hand-written so that what is compared later is
known octet for octet.
"""

from __future__ import annotations

PRODID = "-//Kalends conformance//vdirsyncer suite//EN"
DTSTAMP = "20260101T120000Z"

VTIMEZONE = {
    "Europe/Berlin": [
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Berlin",
        "BEGIN:DAYLIGHT",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "TZNAME:CEST",
        "DTSTART:19700329T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0100",
        "TZNAME:CET",
        "DTSTART:19701025T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "END:STANDARD",
        "END:VTIMEZONE",
    ],
    "America/New_York": [
        "BEGIN:VTIMEZONE",
        "TZID:America/New_York",
        "BEGIN:DAYLIGHT",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0400",
        "TZNAME:EDT",
        "DTSTART:19700308T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:-0400",
        "TZOFFSETTO:-0500",
        "TZNAME:EST",
        "DTSTART:19701101T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
        "END:STANDARD",
        "END:VTIMEZONE",
    ],
}


def fold(line: str, continuation: str = " ") -> list[str]:
    """Split one content line into physical lines of at most 75 octets.

    Continuation lines start with `continuation` (a space or a tab), which
    counts towards their 75 octets. A character is never split.
    """
    pieces: list[str] = []
    current = ""
    limit = 75
    for ch in line:
        if len((current + ch).encode("utf-8")) > limit:
            pieces.append(current)
            current = continuation
        current += ch
    pieces.append(current)
    return pieces


def ics(lines: list[str], continuation: str = " ") -> bytes:
    """Fold every content line and join them with CRLF, ending with CRLF."""
    physical: list[str] = []
    for line in lines:
        physical.extend(fold(line, continuation))
    return ("\r\n".join(physical) + "\r\n").encode("utf-8")


def calendar(components: list[str], tzids: tuple[str, ...] = ()) -> list[str]:
    out = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    for tzid in tzids:
        out.extend(VTIMEZONE[tzid])
    out.extend(components)
    out.append("END:VCALENDAR")
    return out


def event(uid: str, summary: str, start: str, end: str, *extra: str, sequence: int = 0) -> list[str]:
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        start,
        end,
        f"SUMMARY:{summary}",
        f"SEQUENCE:{sequence}",
        *extra,
        "END:VEVENT",
    ]


def todo(uid: str, summary: str, *extra: str, sequence: int = 0) -> list[str]:
    return [
        "BEGIN:VTODO",
        f"UID:{uid}",
        f"DTSTAMP:{DTSTAMP}",
        f"SUMMARY:{summary}",
        f"SEQUENCE:{sequence}",
        *extra,
        "END:VTODO",
    ]


# ---------------------------------------------------------------- the objects

UNICODE_SUMMARY = "Συνάντηση · Встреча · 会議 · اجتماع · מפגש · बैठक · 회의 🎉📅"
UNICODE_LOCATION = "Zürich HB\\, Gleis 7 · 東京駅 · Москва 🚆"
UNICODE_DESCRIPTION = (
    "Ελληνικά: καλημέρα κόσμε\\nРусский: доброе утро\\n日本語: おはようございます\\n"
    "العربية: صباح الخير\\nעברית: בוקר טוב\\nहिन्दी: सुप्रभात\\n"
    "Emoji across folds: 👩‍👩‍👧‍👦🏳️‍🌈🇩🇪🇺🇸 and escaped\\; chars\\, too"
)
LONG_ASCII = (
    "This description is deliberately much longer than seventy-five octets so that "
    "it has to be folded several times by any conforming writer; it also carries "
    "escaped commas\\, semicolons\\; and a backslash \\\\ to keep the escaping honest."
)


def weekly_berlin(summary: str = "Weekly planning (Berlin)", sequence: int = 0) -> bytes:
    """RRULE across the March DST change, one EXDATE and one overridden instance."""
    master = event(
        "kv-weekly-berlin",
        summary,
        "DTSTART;TZID=Europe/Berlin:20260302T090000",
        "DTEND;TZID=Europe/Berlin:20260302T100000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "EXDATE;TZID=Europe/Berlin:20260316T090000",
        "LOCATION:Raum 4.01",
        sequence=sequence,
    )
    override = event(
        "kv-weekly-berlin",
        "Weekly planning — moved to 11:00",
        "DTSTART;TZID=Europe/Berlin:20260323T110000",
        "DTEND;TZID=Europe/Berlin:20260323T120000",
        "RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000",
        sequence=sequence,
    )
    return ics(calendar(master + override, ("Europe/Berlin",)))


def new_york_call(summary: str = "Call with the New York office") -> bytes:
    """Starts in New York time, ends in Berlin time: two VTIMEZONEs in one object."""
    return ics(calendar(
        event(
            "kv-newyork-call",
            summary,
            "DTSTART;TZID=America/New_York:20260410T093000",
            "DTEND;TZID=Europe/Berlin:20260410T163000",
            "DESCRIPTION:09:30 in New York is 15:30 in Berlin.",
        ),
        ("Europe/Berlin", "America/New_York"),
    ))


def all_day_trip(summary: str = "Trip to the coast") -> bytes:
    return ics(calendar(event(
        "kv-allday-trip",
        summary,
        "DTSTART;VALUE=DATE:20260701",
        "DTEND;VALUE=DATE:20260704",
        "TRANSP:TRANSPARENT",
    )))


def yearly_birthday() -> bytes:
    return ics(calendar(event(
        "kv-allday-birthday",
        "Geburtstag von Jürgen 🎂",
        "DTSTART;VALUE=DATE:19800229",
        "DTEND;VALUE=DATE:19800301",
        "RRULE:FREQ=YEARLY",
    )))


def unicode_event(description: str = UNICODE_DESCRIPTION) -> bytes:
    return ics(calendar(event(
        "kv-unicode",
        UNICODE_SUMMARY,
        "DTSTART:20260505T100000Z",
        "DTEND:20260505T110000Z",
        f"LOCATION:{UNICODE_LOCATION}",
        f"DESCRIPTION:{description}",
        "CATEGORIES:Arbeit,仕事,Работа",
    )))


def folded_event() -> bytes:
    """Long lines folded with a TAB as the continuation character (RFC 5545 §3.1 allows either)."""
    return ics(calendar(event(
        "kv-folded",
        "Folded lines: " + "x" * 90,
        "DTSTART:20260506T080000Z",
        "DTEND:20260506T083000Z",
        f"DESCRIPTION:{LONG_ASCII}",
        "ATTENDEE;CN=\"Dr. Very Long Attendee Name, Department of Calendaring\";"
        "ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:attendee@example.invalid",
        "ORGANIZER;CN=Organizer:mailto:organizer@example.invalid",
    )), continuation="\t")


def at_sign_uid(summary: str = "UID with an @: its href is not the UID") -> bytes:
    """vdirsyncer only uses [A-Za-z0-9_.+-] in hrefs; this UID gets a random one."""
    return ics(calendar(event(
        "20260402T120000Z-4711@kalends.example",
        summary,
        "DTSTART:20260402T120000Z",
        "DTEND:20260402T130000Z",
    )))


def task_open(summary: str = "Steuererklärung abgeben ✅", status: str = "NEEDS-ACTION") -> bytes:
    extra = ["DUE;TZID=Europe/Berlin:20260531T235900", "PRIORITY:1", f"STATUS:{status}"]
    if status == "COMPLETED":
        extra += ["COMPLETED:20260520T180000Z", "PERCENT-COMPLETE:100"]
    return ics(calendar(todo("kv-task-open", summary, *extra), ("Europe/Berlin",)))


def task_done() -> bytes:
    return ics(calendar(todo(
        "kv-task-done",
        "Renew the passport 🛂",
        "STATUS:COMPLETED",
        "COMPLETED:20260110T101500Z",
        "PERCENT-COMPLETE:100",
    )))


def task_recurring() -> bytes:
    return ics(calendar(todo(
        "kv-task-recurring",
        "植物に水をやる 🌱",
        "DTSTART;VALUE=DATE:20260105",
        "DUE;VALUE=DATE:20260106",
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "STATUS:NEEDS-ACTION",
    )))


def task_subtask() -> bytes:
    return ics(calendar(todo(
        "kv-task-subtask",
        "Belege sammeln (Unteraufgabe)",
        "RELATED-TO;RELTYPE=PARENT:kv-task-open",
        f"DESCRIPTION:{LONG_ASCII}",
    )))


def work_standup(summary: str = "Stand-up (New York)") -> bytes:
    return ics(calendar(event(
        "kv-work-standup",
        summary,
        "DTSTART;TZID=America/New_York:20260302T091500",
        "DTEND;TZID=America/New_York:20260302T093000",
        "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20260430T131500Z",
    ), ("America/New_York",)))


def work_review() -> bytes:
    return ics(calendar(event(
        "kv-work-review",
        "Quarterly review · Quartalsbericht · 四半期レビュー",
        "DTSTART:20260615T130000Z",
        "DTEND:20260615T150000Z",
    )))


def initial_vdir() -> dict[str, dict[str, bytes]]:
    """collection name -> {file name -> bytes} for the first upload.

    `calendar` and `tasks` exist on the server already; `work` does not, and
    vdirsyncer is expected to create it there.
    """
    return {
        "calendar": {
            "kv-weekly-berlin.ics": weekly_berlin(),
            "kv-newyork-call.ics": new_york_call(),
            "kv-allday-trip.ics": all_day_trip(),
            "kv-allday-birthday.ics": yearly_birthday(),
            "kv-unicode.ics": unicode_event(),
            "kv-folded.ics": folded_event(),
            "uid-with-at-sign.ics": at_sign_uid(),
        },
        "tasks": {
            "kv-task-open.ics": task_open(),
            "kv-task-done.ics": task_done(),
            "kv-task-recurring.ics": task_recurring(),
            "kv-task-subtask.ics": task_subtask(),
        },
        "work": {
            "kv-work-standup.ics": work_standup(),
            "kv-work-review.ics": work_review(),
        },
    }
