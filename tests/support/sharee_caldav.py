#!/usr/bin/env python3
"""Act as a sharee with the python `caldav` library: discover calendars from the base URL (as a
client configured with only the server address does), find the one shared with the user (the
calendar whose resourcetype has CS:shared, read with a PROPFIND of its own), read its events,
then try to add one. Used by tests/sharing.rs, which checks the JSON printed here against what
the owner's calendar holds.

Usage: sharee_caldav.py BASE_URL USER PASSWORD NEW_UID
Prints {"url", "summaries", "write"}: write is "ok" or "refused: <error>".
Exit 0 done; 1 a step failed; 3 the caldav package is missing (never a skip: the caller fails).
"""

import json
import sys

try:
    import caldav
    from caldav.elements import dav
except ImportError as e:
    print(f"the caldav package is not installed for {sys.executable}: {e}", file=sys.stderr)
    sys.exit(3)

CS_SHARED = "{http://calendarserver.org/ns/}shared"


def is_shared(cal):
    props = cal.get_properties([dav.ResourceType()])
    types = props.get(dav.ResourceType.tag)
    # caldav returns the resourcetype's children as a list of tags (or one tag).
    if isinstance(types, str):
        types = [types]
    return CS_SHARED in (types or [])


def main():
    base, user, password, new_uid = sys.argv[1:5]
    client = caldav.DAVClient(url=base, username=user, password=password)
    calendars = client.principal().calendars()
    shared = [c for c in calendars if is_shared(c)]
    if len(shared) != 1:
        print(f"expected one shared calendar, found {[str(c.url) for c in calendars]}", file=sys.stderr)
        sys.exit(1)
    cal = shared[0]
    summaries = sorted(str(e.icalendar_component.get("summary")) for e in cal.events())
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//sharee//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{new_uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260110T100000Z\r\n"
        "DTEND:20260110T110000Z\r\nSUMMARY:Written by the sharee\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    try:
        add = getattr(cal, "add_event", None) or cal.save_event
        add(ics)
        write = "ok"
    except Exception as e:  # the library raises its own error classes for a 403
        write = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"url": str(cal.url), "summaries": summaries, "write": write}))


if __name__ == "__main__":
    main()
