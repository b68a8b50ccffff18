"""Events and tasks: create, find by UID, load, modify, delete."""

import caldav
import pytest
from caldav.lib import error

from support import event_ics, reopen, todo_ics, unique


def assert_gone(server, cal, uid, url, by_uid):
    fresh = reopen(server, cal)
    with pytest.raises(error.NotFoundError):
        getattr(fresh, by_uid)(uid)
    with pytest.raises(error.NotFoundError):
        caldav.CalendarObjectResource(client=fresh.client, url=url, parent=fresh).load(
            multiget_fallback=False
        )


def test_event_save_load_modify_delete(server, scratch_calendar):
    uid = unique("conf-event")
    created = scratch_calendar.add_event(event_ics(uid, "Original summary"))
    assert created.url is not None
    url = created.url

    # Found by UID through a new connection, then loaded with GET.
    found = reopen(server, scratch_calendar).get_event_by_uid(uid)
    assert isinstance(found, caldav.Event)
    assert found.url.canonical() == url.canonical()
    found.load()
    comp = found.get_icalendar_component()
    assert str(comp["UID"]) == uid
    assert str(comp["SUMMARY"]) == "Original summary"
    assert comp["DTSTART"].dt.isoformat() == "2025-03-10T09:00:00+00:00"
    etag_before = found.etag

    # Modify SUMMARY and save back to the same resource.
    with found.edit_icalendar_component() as c:
        c["SUMMARY"] = "Modified summary"
    found.save()

    again = reopen(server, scratch_calendar).get_event_by_uid(uid)
    assert again.url.canonical() == url.canonical()
    again.load()
    assert str(again.get_icalendar_component()["SUMMARY"]) == "Modified summary"
    assert etag_before and again.etag, "GET of a calendar object returned no ETag"
    assert again.etag != etag_before, "ETag did not change after a modification"
    events = reopen(server, scratch_calendar).get_events()
    assert [e.id for e in events] == [uid], "modifying must not create a second resource"

    again.delete()
    assert_gone(server, scratch_calendar, uid, url, "get_event_by_uid")
    assert reopen(server, scratch_calendar).get_events() == []


def test_todo_save_list_modify_complete_delete(server, scratch_tasklist):
    uid = unique("conf-todo")
    created = scratch_tasklist.add_todo(todo_ics(uid, "Write the report"))
    assert created.url is not None
    url = created.url

    pending = reopen(server, scratch_tasklist).get_todos()
    assert [t.id for t in pending] == [uid]
    assert isinstance(pending[0], caldav.Todo)

    found = reopen(server, scratch_tasklist).get_todo_by_uid(uid)
    assert found.url.canonical() == url.canonical()
    found.load()
    assert str(found.get_icalendar_component()["SUMMARY"]) == "Write the report"

    with found.edit_icalendar_component() as c:
        c["SUMMARY"] = "Write the final report"
    found.save()
    reloaded = reopen(server, scratch_tasklist).get_todo_by_uid(uid).load()
    assert str(reloaded.get_icalendar_component()["SUMMARY"]) == "Write the final report"

    # Completing it takes it off the pending list, but not off the full list.
    reloaded.complete()
    fresh = reopen(server, scratch_tasklist)
    assert fresh.get_todos() == []
    everything = fresh.get_todos(include_completed=True)
    assert [t.id for t in everything] == [uid]
    everything[0].load()
    assert str(everything[0].get_icalendar_component()["STATUS"]) == "COMPLETED"

    everything[0].delete()
    assert_gone(server, scratch_tasklist, uid, url, "get_todo_by_uid")
    assert reopen(server, scratch_tasklist).get_todos(include_completed=True) == []
