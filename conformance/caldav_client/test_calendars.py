"""Calendar collections: the defaults a new user has, creating and deleting one."""

import caldav
from caldav.lib import error

from support import new_client, unique


def _components(cal) -> set[str]:
    return {str(c).upper() for c in cal.get_supported_components()}


def test_default_calendar_and_task_list_exist(principal):
    calendars = principal.get_calendars()
    assert calendars, "the calendar home lists no calendars"
    comps = {str(c.url.canonical()): _components(c) for c in calendars}

    event_cals = {u for u, s in comps.items() if "VEVENT" in s}
    todo_cals = {u for u, s in comps.items() if "VTODO" in s}
    assert event_cals, f"no calendar accepts VEVENT: {comps}"
    assert todo_cals, f"no calendar accepts VTODO: {comps}"
    # A default calendar *and* a default task list: two different collections.
    assert any(e != t for e in event_cals for t in todo_cals), (
        f"events and tasks share one collection; expected a separate task list: {comps}"
    )


def test_make_calendar_with_a_name(server, principal):
    cid = unique("conf-mk")
    name = f"Conformance made {cid}"
    cal = principal.make_calendar(name=name, cal_id=cid)
    try:
        assert cal.url is not None

        # Seen from a fresh connection, it is listed with its name.
        listed = {
            str(c.url.canonical()): c for c in new_client(server).principal().get_calendars()
        }
        key = str(cal.url.canonical())
        assert key in listed, f"{cal.url} not in the calendar list {sorted(listed)}"
        assert listed[key].get_display_name() == name
        assert "VEVENT" in _components(listed[key])
        # It starts empty.
        assert caldav.Calendar(client=new_client(server), url=cal.url).get_events() == []
    finally:
        cal.delete(wipe=False)

    after = {str(c.url.canonical()) for c in new_client(server).principal().get_calendars()}
    assert str(cal.url.canonical()) not in after, "deleted calendar is still listed"
    gone = caldav.Calendar(client=new_client(server), url=cal.url)
    try:
        gone.get_events()
    except error.NotFoundError:
        pass
    else:
        raise AssertionError(f"REPORT on the deleted calendar {cal.url} did not answer 404")


def test_make_task_list(server, principal):
    cid = unique("conf-mktasks")
    cal = principal.make_calendar(
        name=f"Conformance tasks {cid}", cal_id=cid, supported_calendar_component_set=["VTODO"]
    )
    try:
        seen = caldav.Calendar(client=new_client(server), url=cal.url)
        assert _components(seen) == {"VTODO"}
    finally:
        cal.delete(wipe=False)
