#!/usr/bin/env python3
"""The CalDAV side of the browser test (run.mjs): the python `caldav` library as a client
configured with only the server's base URL, a user name and a password (the account's or an
app password made on the web page).

Usage:
  caldav_check.py find BASE_URL USER PASSWORD SUMMARY
      Discover the user's calendars and look for events titled SUMMARY within 60 days of now.
      Prints {"calendars": [names], "found": [{"calendar", "start"}]}.
  caldav_check.py add BASE_URL USER PASSWORD CALENDAR_NAME UID SUMMARY START_UTC
      Add an hour-long event to the calendar shown as CALENDAR_NAME (START_UTC like
      20261205T100000Z). Prints {"added": url}.
Exit 0 done; 1 a step failed (said on stderr); 3 the caldav package is missing (the caller
fails: never a skip).
"""

import datetime
import json
import sys

try:
    import caldav
except ImportError as e:
    print(f"the caldav package is not installed for {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)


def calendars(base, user, password):
    client = caldav.DAVClient(url=base, username=user, password=password)
    return client.principal().calendars()


def find(base, user, password, summary):
    now = datetime.datetime.now(datetime.timezone.utc)
    names, found = [], []
    for cal in calendars(base, user, password):
        name = cal.get_display_name()
        names.append(name)
        events = cal.search(event=True, start=now - datetime.timedelta(days=60), end=now + datetime.timedelta(days=60))
        for ev in events:
            comp = ev.icalendar_component
            if str(comp.get("summary")) == summary:
                found.append({"calendar": name, "start": comp.decoded("dtstart").isoformat()})
    print(json.dumps({"calendars": names, "found": found}))


def add(base, user, password, calendar_name, uid, summary, start):
    matches = [c for c in calendars(base, user, password) if c.get_display_name() == calendar_name]
    if len(matches) != 1:
        print(f"expected one calendar named {calendar_name!r}, found {len(matches)}", file=sys.stderr)
        sys.exit(1)
    begin = datetime.datetime.strptime(start, "%Y%m%dT%H%M%SZ")
    end = (begin + datetime.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kalends browser test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    cal = matches[0]
    saved = (getattr(cal, "add_event", None) or cal.save_event)(ics)
    print(json.dumps({"added": str(saved.url)}))


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "find":
        find(*sys.argv[2:6])
    elif len(sys.argv) == 9 and sys.argv[1] == "add":
        add(*sys.argv[2:9])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
