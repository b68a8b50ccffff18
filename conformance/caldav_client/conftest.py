"""Shared fixtures for the black-box CalDAV client tests.

The suite talks to a running server through the `caldav` library only. It
never reads the server's storage. What it needs comes from the environment
(conformance/run sets these):

  KALENDS_CONF_URL       base URL of the server, e.g. http://127.0.0.1:5232/
  KALENDS_CONF_USER      an existing user
  KALENDS_CONF_PASSWORD  that user's password
  KALENDS_CONF_LAYOUT    "kalends" (default) also checks Kalends' URL layout
                         (/principals/NAME/, /calendars/NAME/, /.well-known/caldav
                         -> /); "any" checks only what the RFCs require, for
                         other servers.

Every client is built with features={}, which turns off the library's
backward-compatibility mode. In that mode it quietly retries failed searches
in other ways. Here every server answer has to be right the first time. No
compatibility profile or feature hint is used anywhere.

Tests write only into collections they create themselves, and delete those
collections afterwards. This makes the suite safe to point at an account
that is used for other things.
"""

import os
import warnings

import caldav
import pytest
from caldav.lib import error

from support import Server, new_client, unique


def _server_from_env() -> Server:
    missing = [
        n
        for n in ("KALENDS_CONF_URL", "KALENDS_CONF_USER", "KALENDS_CONF_PASSWORD")
        if not os.environ.get(n)
    ]
    if missing:
        raise pytest.UsageError(
            "missing " + ", ".join(missing) + ": run this suite through conformance/run"
        )
    url = os.environ["KALENDS_CONF_URL"]
    if not url.endswith("/"):
        url += "/"
    layout = os.environ.get("KALENDS_CONF_LAYOUT", "kalends")
    if layout not in ("kalends", "any"):
        raise pytest.UsageError(f"KALENDS_CONF_LAYOUT must be 'kalends' or 'any', not {layout!r}")
    return Server(
        url=url,
        user=os.environ["KALENDS_CONF_USER"],
        password=os.environ["KALENDS_CONF_PASSWORD"],
        layout=layout,
    )


def pytest_configure(config):
    config._kalends_server = _server_from_env()


def pytest_report_header(config):
    s = config._kalends_server
    return (
        f"CalDAV server under test: {s.url} (user {s.user}, layout {s.layout}); "
        f"caldav {caldav.__version__}"
    )


@pytest.fixture(scope="session")
def server(pytestconfig) -> Server:
    return pytestconfig._kalends_server


@pytest.fixture
def client(server):
    c = new_client(server)
    yield c
    c.close()


@pytest.fixture
def principal(client):
    return client.principal()


def _delete_quietly(cal) -> None:
    try:
        cal.delete(wipe=False)
    except error.NotFoundError:
        pass
    except Exception as e:  # cleanup must not hide the test's own result
        warnings.warn(f"could not delete scratch collection {cal.url}: {e!r}")


@pytest.fixture
def scratch_calendar(principal):
    """A new, empty event calendar that is removed after the test."""
    cid = unique("conf-cal")
    cal = principal.make_calendar(name=f"Conformance {cid}", cal_id=cid)
    yield cal
    _delete_quietly(cal)


@pytest.fixture
def scratch_tasklist(principal):
    """A new, empty task list (VTODO only) that is removed after the test."""
    cid = unique("conf-tasks")
    cal = principal.make_calendar(
        name=f"Conformance tasks {cid}", cal_id=cid, supported_calendar_component_set=["VTODO"]
    )
    yield cal
    _delete_quietly(cal)
