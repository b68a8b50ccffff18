"""Change detection: CS:getctag, DAV:sync-token and the sync-collection REPORT (RFC 6578)."""

from caldav.elements import dav
from caldav.elements.base import ValuedBaseElement

from support import event_ics, reopen, unique


class GetCTag(ValuedBaseElement):
    tag = "{http://calendarserver.org/ns/}getctag"


def ctag(server, cal) -> str:
    value = reopen(server, cal).get_property(GetCTag())
    assert value, f"no CS:getctag on {cal.url}"
    return value


def sync_token_prop(server, cal) -> str:
    value = reopen(server, cal).get_property(dav.SyncToken())
    assert value, f"no DAV:sync-token property on {cal.url}"
    return value


def test_ctag_changes_on_every_write(server, scratch_calendar):
    seen = [ctag(server, scratch_calendar)]
    assert ctag(server, scratch_calendar) == seen[0], "CTag changed without a write"

    uid = unique("conf-ctag")
    ev = scratch_calendar.add_event(event_ics(uid, "ctag v1"))
    seen.append(ctag(server, scratch_calendar))

    ev = reopen(server, scratch_calendar).get_event_by_uid(uid).load()
    with ev.edit_icalendar_component() as c:
        c["SUMMARY"] = "ctag v2"
    ev.save()
    seen.append(ctag(server, scratch_calendar))

    ev.delete()
    seen.append(ctag(server, scratch_calendar))

    # Each write must change the CTag. (Coming back to an earlier value after
    # the collection is back in an earlier state, as content-hash CTags do, is fine.)
    for before, after in zip(seen, seen[1:]):
        assert after != before, f"a write left the CTag unchanged: {seen}"


def test_sync_token_changes_and_sync_report_lists_changes(server, scratch_calendar):
    prop0 = sync_token_prop(server, scratch_calendar)
    initial = reopen(server, scratch_calendar).get_objects_by_sync_token(disable_fallback=True)
    assert initial.sync_token, "sync-collection REPORT returned no sync-token"
    assert list(initial) == []

    uid = unique("conf-sync")
    ev = scratch_calendar.add_event(event_ics(uid, "sync v1"))
    url = ev.url.canonical()

    prop1 = sync_token_prop(server, scratch_calendar)
    assert prop1 != prop0, "DAV:sync-token did not change after a PUT"

    added = reopen(server, scratch_calendar).get_objects_by_sync_token(
        sync_token=initial.sync_token, disable_fallback=True
    )
    assert added.sync_token and added.sync_token != initial.sync_token
    assert [o.url.canonical() for o in added] == [url]
    assert not added.deleted_urls

    # Nothing happened since: the same token reports nothing.
    idle = reopen(server, scratch_calendar).get_objects_by_sync_token(
        sync_token=added.sync_token, disable_fallback=True
    )
    assert list(idle) == [] and not idle.deleted_urls

    reopen(server, scratch_calendar).get_event_by_uid(uid).delete()
    prop2 = sync_token_prop(server, scratch_calendar)
    assert prop2 != prop1, "DAV:sync-token did not change after a DELETE"

    removed = reopen(server, scratch_calendar).get_objects_by_sync_token(
        sync_token=added.sync_token, disable_fallback=True
    )
    assert removed.sync_token and removed.sync_token != added.sync_token
    assert removed.deleted_urls == {url}, f"deletion not reported: {removed.deleted_urls}"
