"""HTTP Basic authentication: wrong or missing credentials are refused."""

import caldav
import pytest
from caldav.lib import error

from support import new_client, unique


def test_wrong_password_is_refused(server):
    c = new_client(server, password=server.password + "-wrong")
    with pytest.raises(error.AuthorizationError):
        c.principal()


def test_unknown_user_is_refused(server):
    c = new_client(server, username=unique("nosuchuser"), password=server.password)
    with pytest.raises(error.AuthorizationError):
        c.principal()


def test_missing_credentials_are_refused(server):
    c = caldav.DAVClient(url=server.url, features={}, timeout=30)
    with pytest.raises(error.AuthorizationError):
        c.principal()


def test_wrong_password_cannot_read_the_calendar_home(server, principal, scratch_calendar):
    # The URLs are real (found with the right password); only the password is wrong.
    home = principal.calendar_home_set.url
    cal_url = scratch_calendar.url
    bad = new_client(server, password=server.password + "-wrong")
    with pytest.raises(error.AuthorizationError):
        caldav.CalendarSet(client=bad, url=home).get_calendars()
    with pytest.raises(error.AuthorizationError):
        caldav.Calendar(client=bad, url=cal_url).get_events()
