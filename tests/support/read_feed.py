"""Reads an iCalendar feed with third-party parsers, for tests/feeds.rs.

    read_feed.py parse START END     the feed on standard input
    read_feed.py fetch URL START END a subscriber: GET the URL, then revalidate it with its ETag

START and END are Unix seconds. Prints JSON: the calendar's properties, each VEVENT's
properties (names, SUMMARY, UID, RRULE, VALARM count) as the `icalendar` package reads them,
its parse errors, and every instance between START and END as `recurring-ical-events`
expands them (UTC seconds; dates at midnight UTC). Exit 3 when a package is missing, 1 when
the text does not parse.
"""

import datetime
import json
import sys

try:
    import icalendar
    import recurring_ical_events
except ImportError as e:  # the test fails loudly on this
    print(f"missing Python package: {e}", file=sys.stderr)
    sys.exit(3)

UTC = datetime.timezone.utc


def seconds(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(datetime.datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())


def read(data, start, end):
    cal = icalendar.Calendar.from_ical(data)
    errors = [f"{c.name}: {e}" for c in cal.walk() for e in getattr(c, "errors", [])]
    events = []
    for ev in cal.walk("VEVENT"):
        events.append({
            "uid": str(ev.get("UID")),
            "summary": str(ev.get("SUMMARY")) if "SUMMARY" in ev else None,
            "props": sorted(set(ev.keys())),
            "rrule": ev["RRULE"].to_ical().decode() if "RRULE" in ev else None,
            "recurrence_id": seconds(ev.decoded("RECURRENCE-ID")) if "RECURRENCE-ID" in ev else None,
            "alarms": len([c for c in ev.subcomponents if c.name == "VALARM"]),
        })
    instances = []
    window = (datetime.datetime.fromtimestamp(start, UTC), datetime.datetime.fromtimestamp(end, UTC))
    for occ in recurring_ical_events.of(cal).between(*window):
        instances.append({
            "uid": str(occ.get("UID")),
            "start": seconds(occ.decoded("DTSTART")),
            "end": seconds(occ.decoded("DTEND")) if "DTEND" in occ else None,
            "transp": str(occ.get("TRANSP", "OPAQUE")),
            "status": str(occ.get("STATUS", "")),
            "class": str(occ.get("CLASS", "PUBLIC")),
            "summary": str(occ.get("SUMMARY", "")),
        })
    props = {k: str(v) for k, v in cal.items()}
    return {"calendar": props, "errors": errors, "events": events, "instances": instances,
            "timezones": len(list(cal.walk("VTIMEZONE")))}


def fetch(url, start, end):
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "subscriber"})) as resp:
        body = resp.read()
        etag = resp.headers["ETag"]
        content_type = resp.headers["Content-Type"]
    out = read(body, start, end)
    out["content_type"] = content_type
    again = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        with urllib.request.urlopen(again) as resp:
            out["revalidated"] = resp.status
    except urllib.error.HTTPError as e:
        out["revalidated"] = e.code
    return out


def main():
    if sys.argv[1] == "parse":
        out = read(sys.stdin.buffer.read(), int(sys.argv[2]), int(sys.argv[3]))
    else:
        out = fetch(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any parser complaint fails the test with its text
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
