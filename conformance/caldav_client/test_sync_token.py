"""Calendar.get_objects_by_sync_token(): the sync-collection REPORT (RFC 6578) step by step.

get_objects_by_sync_token is the current name of objects_by_sync_token (an
alias of it in caldav 3.x). Every call but one passes disable_fallback=True:
without it, the library answers a failed sync-collection REPORT by listing
the whole calendar with a client-made "fake-" token, which would hide a server
that cannot sync. The one call without it checks that the library recognises
Kalends' answer to an invalid token (403 with DAV:valid-sync-token) as such
and starts over, as RFC 6578 section 3.2 intends.

Each step uses a new client, so nothing comes from a cache of the last one.
"""

import pytest
from caldav.elements import dav
from caldav.lib import error

from support import event_ics, reopen, store_raw, unique


def sync(server, cal, token=None, **kw):
    return reopen(server, cal).get_objects_by_sync_token(sync_token=token, disable_fallback=True, **kw)


def urls(result) -> set:
    return {o.url.canonical() for o in result}


def test_sync_token_initial_add_modify_delete(server, scratch_calendar):
    cal = scratch_calendar
    a = store_raw(cal, event_ics(unique("conf-sync-a"), "sync A v1"))
    b = store_raw(cal, event_ics(unique("conf-sync-b"), "sync B"))
    url_a, url_b = a.url.canonical(), b.url.canonical()

    # Initial sync: every member, not loaded (only hrefs and ETags were asked for).
    initial = sync(server, cal)
    assert initial.sync_token and not str(initial.sync_token).startswith("fake-")
    assert urls(initial) == {url_a, url_b}
    assert not initial.deleted_urls
    assert all(o.data is None for o in initial), "the initial sync loaded the objects"

    # No change: nothing reported.
    idle = sync(server, cal, initial.sync_token)
    assert list(idle) == [] and not idle.deleted_urls
    assert idle.sync_token

    # Modify A: only A, and with load_objects=True its new data.
    ev = reopen(server, cal).get_event_by_uid(a.id).load()
    with ev.edit_icalendar_component() as c:
        c["SUMMARY"] = "sync A v2"
    ev.save()
    modified = sync(server, cal, idle.sync_token, load_objects=True)
    assert modified.sync_token != idle.sync_token
    assert urls(modified) == {url_a} and not modified.deleted_urls
    (obj,) = list(modified)
    assert obj.data is not None, "load_objects=True did not load the changed object"
    assert str(obj.icalendar_component["SUMMARY"]) == "sync A v2"

    # Add C: only C.
    c_obj = store_raw(cal, event_ics(unique("conf-sync-c"), "sync C"))
    url_c = c_obj.url.canonical()
    added = sync(server, cal, modified.sync_token)
    assert urls(added) == {url_c} and not added.deleted_urls

    # Delete B: reported as deleted (a 404 response), no data even with load_objects=True.
    reopen(server, cal).get_event_by_uid(b.id).delete()
    removed = sync(server, cal, added.sync_token, load_objects=True)
    assert removed.deleted_urls == {url_b}
    assert urls(removed) == {url_b}
    assert all(o.data is None for o in removed), "a deleted member came back with data"

    # Nothing since.
    after = sync(server, cal, removed.sync_token)
    assert list(after) == [] and not after.deleted_urls

    # From the first token, everything at once: A changed, C new, B gone (RFC 6578 3.5.1).
    since_start = sync(server, cal, initial.sync_token)
    assert since_start.deleted_urls == {url_b}
    assert urls(since_start) - since_start.deleted_urls == {url_a, url_c}

    # A fresh initial sync lists the current members only.
    fresh = sync(server, cal)
    assert urls(fresh) == {url_a, url_c} and not fresh.deleted_urls


# The tokens the library's own test (testObjectBySyncTokenNeverIssued) probes with.
NEVER_ISSUED = ["http://example.invalid/never-issued", "0" * 40]


@pytest.mark.parametrize("token", NEVER_ISSUED, ids=["foreign-uri", "zeros"])
def test_invalid_sync_token_is_refused(server, scratch_calendar, token):
    """RFC 6578 3.2: an unknown token gets 403 with the DAV:valid-sync-token precondition.

    caldav raises AuthorizationError (its error for 401/403) and lists the
    DAV:error children in .preconditions; that list is how the library tells
    an expired token from a permission problem (_is_genuine_authorization_error).
    """
    store_raw(scratch_calendar, event_ics(unique("conf-sync-bad"), "sync bad token"))
    with pytest.raises(error.AuthorizationError) as e:
        sync(server, scratch_calendar, token)
    assert e.value.status == 403, f"status {e.value.status}: {e.value!r}"
    assert dav.ValidSyncToken.tag in e.value.preconditions, f"{e.value.preconditions}: {e.value.body!r}"


def test_never_issued_token_of_this_collection_is_refused(server, scratch_calendar):
    """RFC 6578 6.2: the token must map to one the server returned. Kalends' tokens are
    urn:x-kalends:sync:<collection>:<sequence>; one sequence number ahead of the
    current one has never been issued. (Only with --layout kalends: elsewhere tokens are opaque.)"""
    if server.layout != "kalends":
        pytest.skip("needs Kalends' sync-token format (layout kalends)")
    store_raw(scratch_calendar, event_ics(unique("conf-sync-ahead"), "sync ahead"))
    current = str(sync(server, scratch_calendar).sync_token)
    prefix, _, seq = current.rpartition(":")
    assert prefix.startswith("urn:x-kalends:sync:") and seq.isdigit(), current
    ahead = f"{prefix}:{int(seq) + 1000}"
    with pytest.raises(error.AuthorizationError) as e:
        sync(server, scratch_calendar, ahead)
    assert e.value.status == 403
    assert dav.ValidSyncToken.tag in e.value.preconditions


def test_library_falls_back_to_full_sync_on_invalid_token(server, scratch_calendar):
    """Without disable_fallback, the library starts over on a 403 valid-sync-token."""
    a = store_raw(scratch_calendar, event_ics(unique("conf-sync-fb"), "sync fallback"))
    result = reopen(server, scratch_calendar).get_objects_by_sync_token(sync_token=NEVER_ISSUED[0])
    assert urls(result) == {a.url.canonical()}
