"""The events and tasks the search, expand and free/busy tests store, and what they mean.

Every object is written out here line by line and PUT as these bytes
(support.store_raw), so each expected answer below can be checked by hand
against RFC 4791 section 9.9 (time ranges) and RFC 5545 (recurrence).

All times are in March-May 2025. Europe/Berlin switches from CET (UTC+1) to
CEST (UTC+2) on Sunday 30 March 2025, so a 09:30 Berlin event is 08:30Z on
24 March and 07:30Z on 31 March.
"""

from dataclasses import dataclass

from support import VTIMEZONE_BERLIN, component, unique, vcalendar

DTSTAMP = "DTSTAMP:20250101T120000Z"


@dataclass(frozen=True)
class Item:
    key: str
    uid: str
    ics: str


def event_corpus() -> dict[str, Item]:
    """The events the search and expand tests store in one calendar.

    single    one timed event, 10 March 09:00-10:00Z.
    weekly    09:30-10:30 Europe/Berlin every Monday, 3 March to 21 April
              (COUNT=8), across the DST change: 08:30Z before 30 March,
              07:30Z after.
    allday    an all-day event on 12 March (DATE values).
    allday_weekly
              an all-day event every Monday, 24 March, 31 March, 7 April.
    thursday  14:00-15:00Z every Thursday, 6 March to 10 April (COUNT=6),
              with three overridden instances in the same resource:
                13 March moved out, to Tuesday 15 April 14:00Z;
                27 March moved in, to Wednesday 12 March 16:00Z;
                3 April at its own time, with its own SUMMARY.
    """
    items = {}

    def add(key, ics_of_uid):
        uid = unique(f"conf-{key.replace('_', '-')}")
        items[key] = Item(key, uid, ics_of_uid(uid))

    add("single", lambda uid: vcalendar(component(
        "VEVENT", f"UID:{uid}", DTSTAMP,
        "DTSTART:20250310T090000Z", "DTEND:20250310T100000Z",
        "SUMMARY:Quarterly planning review",
    )))
    add("weekly", lambda uid: vcalendar(component(
        "VEVENT", f"UID:{uid}", DTSTAMP,
        "DTSTART;TZID=Europe/Berlin:20250303T093000",
        "DTEND;TZID=Europe/Berlin:20250303T103000",
        "RRULE:FREQ=WEEKLY;COUNT=8",
        "SUMMARY:Weekly planning stand-up",
    ), timezones=VTIMEZONE_BERLIN))
    add("allday", lambda uid: vcalendar(component(
        "VEVENT", f"UID:{uid}", DTSTAMP,
        "DTSTART;VALUE=DATE:20250312", "DTEND;VALUE=DATE:20250313",
        "SUMMARY:Company holiday",
    )))
    add("allday_weekly", lambda uid: vcalendar(component(
        "VEVENT", f"UID:{uid}", DTSTAMP,
        "DTSTART;VALUE=DATE:20250324", "DTEND;VALUE=DATE:20250325",
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "SUMMARY:Home office day",
    )))
    add("thursday", lambda uid: vcalendar(
        component(
            "VEVENT", f"UID:{uid}", DTSTAMP,
            "DTSTART:20250306T140000Z", "DTEND:20250306T150000Z",
            "RRULE:FREQ=WEEKLY;COUNT=6",
            "SUMMARY:Thursday design review",
        ),
        component(
            "VEVENT", f"UID:{uid}", DTSTAMP,
            "RECURRENCE-ID:20250313T140000Z",
            "DTSTART:20250415T140000Z", "DTEND:20250415T150000Z",
            "SUMMARY:Design review (moved out)",
        ),
        component(
            "VEVENT", f"UID:{uid}", DTSTAMP,
            "RECURRENCE-ID:20250327T140000Z",
            "DTSTART:20250312T160000Z", "DTEND:20250312T170000Z",
            "SUMMARY:Design review (moved in)",
        ),
        component(
            "VEVENT", f"UID:{uid}", DTSTAMP,
            "RECURRENCE-ID:20250403T140000Z",
            "DTSTART:20250403T140000Z", "DTEND:20250403T150000Z",
            "SUMMARY:Design review (guest talk)",
        ),
    ))
    return items


def todo_corpus() -> dict[str, Item]:
    """The tasks the todo search tests store in one task list.

    span       DTSTART 10 March 09:00Z, DUE 12 March 17:00Z, NEEDS-ACTION.
    due_only   DUE 20 March 17:00Z, no DTSTART, NEEDS-ACTION.
    completed  DTSTART 11 March 09:00Z, DUE 11 March 17:00Z, COMPLETED.
    undated    neither DTSTART nor DUE (nor COMPLETED, nor CREATED), NEEDS-ACTION:
               RFC 4791 section 9.9 says it matches every time range.
    """
    items = {}

    def add(key, *lines):
        uid = unique(f"conf-todo-{key.replace('_', '-')}")
        items[key] = Item(key, uid, vcalendar(component("VTODO", f"UID:{uid}", DTSTAMP, *lines)))

    add("span", "DTSTART:20250310T090000Z", "DUE:20250312T170000Z",
        "STATUS:NEEDS-ACTION", "SUMMARY:Prepare the budget")
    add("due_only", "DUE:20250320T170000Z", "STATUS:NEEDS-ACTION", "SUMMARY:File the report")
    add("completed", "DTSTART:20250311T090000Z", "DUE:20250311T170000Z",
        "STATUS:COMPLETED", "COMPLETED:20250311T150000Z", "SUMMARY:Book the venue")
    add("undated", "STATUS:NEEDS-ACTION", "SUMMARY:Water the plants")
    return items
