"""calendar-query through Calendar.search(): time ranges, recurrences, text, tasks.

Each search is made twice and both answers must be the expected set of UIDs:

- as an application makes it, `calendar.search(start=..., end=..., event=True)`.
  For a time range the library (caldav 3.6.0, caldav/search.py, _search_impl)
  then sets post_filter: it asks the server for one more day on each side
  (_TIME_RANGE_MARGIN) and cuts the answer to the range itself client-side,
  because the server cannot know the user's zone for DATE and floating values.
  That cut would hide a server that returns too much.
- with `post_filter=False` (a documented search() argument), which sends the
  range as given and keeps the server's answer as it is. This one shows what
  Kalends itself decided under RFC 4791 section 9.9.

The corpus (corpus.py) holds single, recurring (weekly, Europe/Berlin, across
the DST change), all-day and overridden events; every window below names which
of them overlap it, and why. Windows are timezone-aware UTC datetimes, so the
library places the all-day events in UTC too, as the server does.
"""

from datetime import datetime, timezone

import caldav
import pytest

from corpus import event_corpus, todo_corpus
from support import filled_calendar, reopen, uids


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def events(server):
    """A calendar holding the event corpus, shared by this module's tests (read only)."""
    items = event_corpus()
    with filled_calendar(server, "conf-search", "Conformance search", (i.ics for i in items.values())) as cal:
        yield cal, items


@pytest.fixture(scope="module")
def tasks(server):
    """A task list holding the todo corpus, shared by this module's tests (read only)."""
    items = todo_corpus()
    texts = (i.ics for i in items.values())
    with filled_calendar(
        server, "conf-search-tasks", "Conformance search tasks", texts, caldav.Todo,
        supported_calendar_component_set=["VTODO"],
    ) as cal:
        yield cal, items


def expected(items, keys) -> list[str]:
    return sorted(items[k].uid for k in keys)


def search_both(server, cal, **kw) -> tuple[list[str], list[str]]:
    """UIDs from the library's default search and from post_filter=False, each through a new client."""
    default = uids(reopen(server, cal).search(**kw))
    as_served = uids(reopen(server, cal).search(post_filter=False, **kw))
    return default, as_served


# (id, start, end, keys of the events that overlap, why)
EVENT_WINDOWS = [
    ("10-march", utc(2025, 3, 10), utc(2025, 3, 11), {"single", "weekly"},
     "single 09:00-10:00Z; weekly 09:30 CET = 08:30Z"),
    ("10-march-08-09", utc(2025, 3, 10, 8), utc(2025, 3, 10, 9), {"weekly"},
     "single starts at the window's end, which is exclusive"),
    ("10-march-10-11", utc(2025, 3, 10, 10), utc(2025, 3, 10, 11), set(),
     "single ends at the window's start; weekly ends 09:30Z"),
    ("12-march", utc(2025, 3, 12), utc(2025, 3, 13), {"allday", "thursday"},
     "the all-day event; 27 March's instance moved in to 12 March 16:00Z"),
    ("13-march-afternoon", utc(2025, 3, 13, 12), utc(2025, 3, 13, 18), set(),
     "13 March's 14:00Z instance was moved out to 15 April"),
    ("15-april", utc(2025, 4, 15), utc(2025, 4, 16), {"thursday"},
     "where 13 March's instance was moved to"),
    ("24-march-before-dst", utc(2025, 3, 24, 8), utc(2025, 3, 24, 8, 45), {"weekly", "allday_weekly"},
     "09:30 CET = 08:30Z; the Monday all-day event"),
    ("31-march-after-dst", utc(2025, 3, 31, 7), utc(2025, 3, 31, 8), {"weekly", "allday_weekly"},
     "09:30 CEST = 07:30Z; the Monday all-day event"),
    ("31-march-cet-hour", utc(2025, 3, 31, 8, 30), utc(2025, 3, 31, 9, 30), {"allday_weekly"},
     "where 09:30 would be without the DST change: weekly ends 08:30Z, not in it"),
    ("march-april", utc(2025, 3, 1), utc(2025, 5, 1),
     {"single", "weekly", "allday", "allday_weekly", "thursday"}, "everything"),
]


@pytest.mark.parametrize(
    "start,end,keys,why", [w[1:] for w in EVENT_WINDOWS], ids=[w[0] for w in EVENT_WINDOWS]
)
def test_time_range_search_events(server, events, start, end, keys, why):
    cal, items = events
    default, as_served = search_both(server, cal, start=start, end=end, event=True)
    want = expected(items, keys)
    assert as_served == want, f"server's answer for {start}..{end} ({why})"
    assert default == want, f"library's default search for {start}..{end} ({why})"


def test_search_by_component_type(server, events):
    cal, items = events
    fresh = reopen(server, cal)
    assert uids(fresh.search(event=True)) == expected(items, items)
    assert uids(fresh.search(comp_class=caldav.Event)) == expected(items, items)
    assert fresh.search(todo=True, include_completed=True) == []


# (id, search arguments, keys of the matching events)
TEXT_SEARCHES = [
    ("summary-whole", {"summary": "Quarterly planning review"}, {"single"}),
    ("summary-substring", {"summary": "planning"}, {"single", "weekly"}),
    ("summary-in-master-or-override", {"summary": "review"}, {"single", "thursday"}),
    # RFC 4791 9.7.1: a VEVENT comp-filter matches if any VEVENT of the resource does.
    ("summary-only-in-an-override", {"summary": "moved in"}, {"thursday"}),
    # The library sends collation i;octet unless told otherwise: case matters.
    ("summary-other-case", {"summary": "quarterly planning"}, set()),
    ("summary-absent", {"summary": "nothing like this"}, set()),
    ("summary-and-time-range",
     {"summary": "planning", "start": utc(2025, 3, 31, 7), "end": utc(2025, 3, 31, 8)}, {"weekly"}),
    ("summary-and-time-range-via-override",
     {"summary": "review", "start": utc(2025, 3, 12), "end": utc(2025, 3, 13)}, {"thursday"}),
]


@pytest.mark.parametrize("kw,keys", [t[1:] for t in TEXT_SEARCHES], ids=[t[0] for t in TEXT_SEARCHES])
def test_text_search(server, events, kw, keys):
    cal, items = events
    default, as_served = search_both(server, cal, event=True, **kw)
    assert as_served == expected(items, keys)
    assert default == expected(items, keys)


@pytest.mark.parametrize("key", ["single", "weekly", "thursday"])
def test_uid_search(server, events, key):
    cal, items = events
    default, as_served = search_both(server, cal, event=True, uid=items[key].uid)
    assert as_served == default == [items[key].uid]


def test_case_insensitive_text_search(server, events):
    """add_property_filter(case_sensitive=False) sends collation i;ascii-casemap (RFC 4790)."""
    cal, items = events
    searcher = reopen(server, cal).searcher(event=True)
    searcher.add_property_filter("summary", "QUARTERLY planning", case_sensitive=False)
    assert uids(searcher.search()) == [items["single"].uid]


def test_todo_search_without_time_range(server, tasks):
    cal, items = tasks
    fresh = reopen(server, cal)
    assert uids(fresh.search(todo=True)) == expected(items, {"span", "due_only", "undated"})
    assert uids(fresh.search(todo=True, include_completed=True)) == expected(items, items)
    assert fresh.search(event=True) == []


# (id, start, end, pending keys, keys with completed ones, why) - RFC 4791 9.9, VTODO table.
TODO_WINDOWS = [
    ("11-march", utc(2025, 3, 11), utc(2025, 3, 12),
     {"span", "undated"}, {"span", "completed", "undated"},
     "span runs 10-12 March; completed 11 March; due_only is due on 20 March"),
    ("20-march", utc(2025, 3, 20), utc(2025, 3, 21),
     {"due_only", "undated"}, {"due_only", "undated"},
     "DUE only: start < DUE and end >= DUE"),
    ("june", utc(2025, 6, 1), utc(2025, 6, 2), {"undated"}, {"undated"},
     "only the task without any date matches every range"),
]


@pytest.mark.parametrize(
    "start,end,pending,everything,why", [w[1:] for w in TODO_WINDOWS], ids=[w[0] for w in TODO_WINDOWS]
)
def test_time_range_search_todos(server, tasks, start, end, pending, everything, why):
    cal, items = tasks
    default, as_served = search_both(server, cal, start=start, end=end, todo=True, include_completed=True)
    assert as_served == expected(items, everything), f"server's answer ({why})"
    assert default == expected(items, everything), f"library's default search ({why})"
    # Pending only: the library sends three queries with STATUS/COMPLETED filters
    # (ignore_completed1..3 in caldav/search.py) and merges them.
    open_ = uids(reopen(server, cal).search(start=start, end=end, todo=True))
    assert open_ == expected(items, pending), f"pending tasks ({why})"
