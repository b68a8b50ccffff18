"""The vdirsyncer checks: vdirsyncer syncs a local vdir with the user's Kalends collections.

vdirsyncer reaches the server through a recording proxy on loopback, so every
check can assert on the HTTP exchanges as well as on the end state. The
server's end state is always read back directly (PROPFIND + GET), as another
client would, and the vdir is read from disk. Objects are compared octet for
octet after unfolding (RFC 5545 §3.1), keyed by UID.

The checks build on each other (the vdir and the server carry over), so each
one after `upload` first verifies that both sides agree; if an earlier failure
left them apart it is reported as skipped with that difference, never as a
pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

import ical_fixtures as fx
from dav_client import CALDAV, Client
from recording_proxy import WRITE_METHODS, Exchange, RecordingProxy

VDIRSYNCER_RUN_TIMEOUT = 180  # seconds for one vdirsyncer command at most
EVIDENCE_LIMIT = 6000  # characters of evidence kept in a reason
COLLECTIONS = ("calendar", "tasks", "work")  # `work` is created by vdirsyncer
SERVER_COLLECTIONS = ("calendar", "tasks")  # what a fresh user has


class CheckFailed(Exception):
    """A check's assertion did not hold; the message is the reason."""


class CheckSkipped(Exception):
    """A check could not be run meaningfully; the message is the reason."""


class OutOfTime(Exception):
    """The suite's time budget (KALENDS_CONF_TIMEOUT) is used up."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------- comparing objects


def logical_lines(data: bytes) -> list[bytes]:
    """Content lines after unfolding: split at CRLF, join continuation lines.

    A bare LF is not a line end in iCalendar, so an object rewritten with LF
    line ends does not compare equal.
    """
    physical = data.split(b"\r\n")
    if physical and physical[-1] == b"":
        physical.pop()
    out: list[bytes] = []
    for line in physical:
        if out and line[:1] in (b" ", b"\t"):
            out[-1] += line[1:]
        else:
            out.append(line)
    return out


def uid_of(data: bytes) -> str | None:
    for line in logical_lines(data):
        if line.startswith(b"UID:"):
            return line[4:].decode("utf-8", "replace")
    return None


def first_difference(a: bytes, b: bytes) -> str:
    la, lb = logical_lines(a), logical_lines(b)
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return f"logical line {i + 1}: {x[:160]!r} != {y[:160]!r}"
    if len(la) != len(lb):
        return f"{len(la)} logical lines != {len(lb)}"
    return "same logical lines, different folding or line ends" if a != b else "identical"


def components_of(data: bytes) -> set[str]:
    names = set()
    for line in logical_lines(data):
        if line.startswith(b"BEGIN:") and line not in (b"BEGIN:VCALENDAR", b"BEGIN:VTIMEZONE",
                                                       b"BEGIN:STANDARD", b"BEGIN:DAYLIGHT",
                                                       b"BEGIN:VALARM"):
            names.add(line[6:].decode("ascii", "replace"))
    return names


@dataclass
class LocalItem:
    path: Path
    body: bytes
    stat: tuple[int, int]  # (mtime_ns, inode): what vdirsyncer's filesystem ETag is made of


@dataclass
class ServerItem:
    href: str
    etag: str
    body: bytes


def read_vdir(root: Path) -> dict[str, dict[str, LocalItem]]:
    """collection -> uid -> item, for every non-hidden directory of `root`."""
    out: dict[str, dict[str, LocalItem]] = {}
    if not root.is_dir():
        return out
    for coll in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        items: dict[str, LocalItem] = {}
        for f in sorted(coll.iterdir()):
            if not f.is_file() or not f.name.endswith(".ics"):
                continue
            body = f.read_bytes()
            uid = uid_of(body)
            if uid is None:
                raise CheckFailed(f"local file {f} has no UID")
            if uid in items:
                raise CheckFailed(f"two local files carry UID {uid}: {items[uid].path.name} and {f.name}")
            st = f.stat()
            items[uid] = LocalItem(f, body, (st.st_mtime_ns, st.st_ino))
        out[coll.name] = items
    return out


def write_atomically(path: Path, body: bytes) -> None:
    """Write as an editor would: a new file renamed over the old one (new inode)."""
    tmp = path.with_name(f".{path.name}.writing")
    tmp.write_bytes(body)
    os.replace(tmp, path)


# ---------------------------------------------------------------- running vdirsyncer


@dataclass
class VdsRun:
    label: str
    argv: list[str]
    returncode: int
    output: str
    exchanges: list[Exchange]
    log_path: Path

    def writes(self) -> list[Exchange]:
        return [x for x in self.exchanges if x.method in WRITE_METHODS]

    def failures(self) -> list[Exchange]:
        return [x for x in self.exchanges if x.status >= 400]

    def summary(self) -> str:
        """The evidence for a reason: exit status, the HTTP errors, the end of the log."""
        parts = [f"`vdirsyncer {' '.join(self.argv)}` exited {self.returncode} (full log: {self.log_path})"]
        for x in self.failures()[:4]:
            parts.append(x.describe(600))
        tail = [ln for ln in self.output.splitlines() if not ln.startswith("debug:")][-15:]
        if tail:
            parts.append("vdirsyncer said:\n" + "\n".join(tail))
        return "\n".join(parts)


def clip(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


@dataclass
class Pair:
    """One `[pair]` of a vdirsyncer config with its two storages."""
    name: str
    local_path: Path
    server_url: str
    collections: list[str] | None
    conflict_resolution: str | None = "a wins"


class Suite:
    def __init__(self, *, base_url: str, user: str, password: str, work: Path,
                 vdirsyncer: Path, proxy: RecordingProxy, deadline: float):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.user = user
        self.password = password
        self.work = work
        self.vdirsyncer = vdirsyncer
        self.proxy = proxy
        self.deadline = deadline
        self.direct = Client(self.base_url, user, password)  # "another client", not through the proxy
        self.home_path = urlsplit(self.direct.url(f"calendars/{quote(user)}/")).path
        self.vdir = work / "vdir"
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._runs = 0
        self.main_pair = Pair("kalends", self.vdir, proxy.base_url, ["from a", "from b"])
        self.all_runs: list[VdsRun] = []
        self.discover_run: VdsRun | None = None
        self.upload_ok = False

    # ------------------------------------------------------------ plumbing

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def collection_path(self, coll: str) -> str:
        return f"{self.home_path}{quote(coll)}/"

    def write_config(self, name: str, pairs: list[Pair]) -> Path:
        def val(v) -> str:
            return json.dumps(v, ensure_ascii=False)

        lines = ["[general]", f"status_path = {val(str(self.work / 'status' / name) + '/')}", ""]
        for p in pairs:
            lines += [f"[pair {p.name}]", f"a = {val(p.name + '_local')}", f"b = {val(p.name + '_server')}",
                      f"collections = {val(p.collections) if p.collections is not None else 'null'}",
                      'implicit = "create"']
            if p.conflict_resolution:
                lines.append(f"conflict_resolution = {val(p.conflict_resolution)}")
            lines += ["", f"[storage {p.name}_local]", 'type = "filesystem"',
                      f"path = {val(str(p.local_path) + '/')}", 'fileext = ".ics"', "",
                      f"[storage {p.name}_server]", 'type = "caldav"', f"url = {val(p.server_url)}",
                      f"username = {val(self.user)}", f"password = {val(self.password)}", ""]
        path = self.work / f"{name}.conf"
        path.write_text("\n".join(lines), encoding="utf-8")
        path.chmod(0o600)
        return path

    def vds(self, config: Path, *args: str, label: str,
            hook: Callable[[str, str, dict[str, str], bytes], None] | None = None) -> VdsRun:
        """Run one vdirsyncer command at DEBUG verbosity, recording its HTTP traffic."""
        budget = min(VDIRSYNCER_RUN_TIMEOUT, self.remaining() - 5)
        if budget < 5:
            raise OutOfTime(f"no time left to run vdirsyncer {' '.join(args)}")
        self._runs += 1
        argv = ["-c", str(config), "--verbosity", "DEBUG", *args]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.work / "home"),  # no ~/.netrc, no user config
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost",  # aiohttp honours *_proxy; loopback must stay direct
            "no_proxy": "127.0.0.1,localhost",
        }
        (self.work / "home").mkdir(exist_ok=True)
        self.proxy.take()
        self.proxy.before_forward = hook
        try:
            p = subprocess.run([str(self.vdirsyncer), *argv], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=budget)
            rc, out = p.returncode, p.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            rc, out = -1, (e.stdout or b"").decode("utf-8", "replace") + f"\n[killed after {budget:.0f}s]"
        finally:
            self.proxy.before_forward = None
        exchanges = self.proxy.take()
        log_path = self.logs / f"{self._runs:02d}-{label}.log"
        with open(log_path, "w", encoding="utf-8") as f:
            f.write(f"$ vdirsyncer {' '.join(argv)}\nexit status {rc}\n\n{out}\n\n")
            f.write("================ HTTP exchanges seen by the recording proxy ================\n")
            for x in exchanges:
                f.write(x.describe(20000) + "\n")
        run = VdsRun(label, argv, rc, out, exchanges, log_path)
        self.all_runs.append(run)
        return run

    def vds_ok(self, config: Path, *args: str, label: str, **kw) -> VdsRun:
        run = self.vds(config, *args, label=label, **kw)
        expect(run.returncode == 0, clip(run.summary()))
        return run

    def server_state(self, coll: str) -> dict[str, ServerItem]:
        out: dict[str, ServerItem] = {}
        for href, obj in self.direct.objects(self.collection_path(coll)).items():
            uid = uid_of(obj.body)
            if uid is None:
                raise CheckFailed(f"server object {href} has no UID")
            if uid in out:
                raise CheckFailed(f"two server objects carry UID {uid}: {out[uid].href} and {href}")
            out[uid] = ServerItem(href, obj.etag, obj.body)
        return out

    def differences(self, root: Path, collections=COLLECTIONS) -> list[str]:
        """Where the vdir under `root` and the server disagree, per collection and UID."""
        local = read_vdir(root)
        problems: list[str] = []
        for coll in collections:
            loc = local.get(coll)
            if loc is None:
                problems.append(f"{coll}: no local collection directory under {root}")
                continue
            srv = self.server_state(coll)
            for uid in sorted(set(loc) - set(srv)):
                problems.append(f"{coll}: {uid} is only in the vdir ({loc[uid].path.name})")
            for uid in sorted(set(srv) - set(loc)):
                problems.append(f"{coll}: {uid} is only on the server ({srv[uid].href})")
            for uid in sorted(set(loc) & set(srv)):
                if logical_lines(loc[uid].body) != logical_lines(srv[uid].body):
                    problems.append(f"{coll}: {uid} differs, vdir vs GET {srv[uid].href}: "
                                    f"{first_difference(loc[uid].body, srv[uid].body)}")
        return problems

    def require_in_sync(self) -> None:
        if not self.upload_ok:
            raise CheckSkipped("needs `upload`, which did not pass")
        problems = self.differences(self.vdir)
        if problems:
            raise CheckSkipped("vdir and server already differ before this check (left by an earlier "
                               "failure): " + "; ".join(problems[:8]))

    def expect_same(self, root: Path, context: str) -> None:
        problems = self.differences(root)
        expect(not problems, f"{context}: " + clip("; ".join(problems)))

    def server_etags(self) -> dict[str, str]:
        return {m.href: m.etag for coll in COLLECTIONS for m in self.direct.members(self.collection_path(coll))}

    def local_snapshot(self, root: Path) -> dict[str, tuple[tuple[int, int], bytes]]:
        return {str(i.path): (i.stat, i.body) for items in read_vdir(root).values() for i in items.values()}

    # ------------------------------------------------------------ the checks

    def check_discovery(self) -> str:
        """From the base URL, /.well-known/caldav and the calendar home, vdirsyncer finds
        exactly the user's calendar and task list, at their collection URLs."""
        expected = {c: self.proxy.origin + self.collection_path(c) for c in SERVER_COLLECTIONS}
        entry_points = {
            "base-url": self.proxy.base_url,
            "well-known": self.proxy.origin + "/.well-known/caldav",
            "calendar-home": self.proxy.origin + self.home_path,
        }
        problems = []
        for label, url in entry_points.items():
            scratch = self.work / f"discover-{label}"
            scratch.mkdir()
            pair = Pair("probe", scratch, url, ["from b"], conflict_resolution=None)
            cfg = self.write_config(f"discover-{label}", [pair])
            run = self.vds(cfg, "discover", "probe", label=f"discover-{label}")
            if run.returncode != 0:
                problems.append(f"[{label}] {run.summary()}")
                continue
            cache = json.loads((self.work / "status" / f"discover-{label}" / "probe.collections").read_text())
            found = {name: (b.get("url") or "") for name, (_a, b) in cache["collections"]}
            found = {name: (u if u.endswith("/") else u + "/") for name, u in found.items()}
            if found != expected:
                problems.append(f"[{label}] discovered {found}, expected {expected}")
            errors = [f"{x.method} {x.path} -> {x.status}" for x in run.failures()]
            if errors:
                problems.append(f"[{label}] HTTP errors during discovery: {errors}")
            writes = [f"{x.method} {x.path}" for x in run.writes()]
            if writes:
                problems.append(f"[{label}] discovery wrote to the server: {writes}")
            created = sorted(p.name for p in scratch.iterdir())
            if created != sorted(SERVER_COLLECTIONS):
                problems.append(f"[{label}] local collections created {created}, expected {sorted(SERVER_COLLECTIONS)}")
        expect(not problems, clip("\n".join(problems)))
        return f"each of {', '.join(entry_points)} found exactly {sorted(expected)}"

    def check_upload(self) -> str:
        """A vdir of recurring, time-zoned, all-day, non-ASCII, folded events and tasks is
        uploaded; the server then holds exactly those objects, octet for octet."""
        initial = fx.initial_vdir()
        for coll, files in initial.items():
            d = self.vdir / coll
            d.mkdir(parents=True)
            for name, body in files.items():
                (d / name).write_bytes(body)
        cfg = self.write_config("main", [self.main_pair])
        self.main_config = cfg
        self.discover_run = self.vds_ok(cfg, "discover", "kalends", label="main-discover")
        run = self.vds_ok(cfg, "sync", label="upload")

        expected_uids = {coll: {uid_of(b) for b in files.values()} for coll, files in initial.items()}
        problems = []
        puts = [x for x in run.exchanges if x.method == "PUT"]
        by_body = {x.request_body: x for x in puts}
        for coll, files in initial.items():
            srv = self.server_state(coll)
            if set(srv) != expected_uids[coll]:
                problems.append(f"{coll}: server holds UIDs {sorted(srv)}, expected {sorted(expected_uids[coll])}")
            for name, body in files.items():
                uid = uid_of(body)
                put = by_body.get(body)
                if put is None:
                    problems.append(f"{coll}/{name}: vdirsyncer sent no PUT with these exact bytes")
                elif put.status != 201:
                    problems.append(f"{coll}/{name}: PUT {put.path} answered {put.status}, expected 201 "
                                    f"Created (RFC 9110 §9.3.4)\n{put.describe(400)}")
                item = srv.get(uid)
                if item is None:
                    continue
                if logical_lines(item.body) != logical_lines(body):
                    problems.append(f"{coll}/{name}: GET {item.href} differs from the uploaded file: "
                                    f"{first_difference(body, item.body)}")
                if put is not None and put.status == 201:
                    put_etag = put.response_headers.get("etag")
                    if put_etag != item.etag:
                        problems.append(f"{coll}/{name}: PUT answered ETag {put_etag!r} but the stored "
                                        f"object has {item.etag!r} (RFC 4791 §5.3.4: an ETag on PUT means "
                                        f"the bytes were stored unchanged)")
        problems += [f"vdir changed while uploading: {p}" for p in self._local_drift(initial)]
        expect(not problems, clip("\n".join(problems)))
        self.upload_ok = True
        n = sum(len(f) for f in initial.values())
        return f"{n} objects in {len(initial)} collections stored octet for octet, each PUT 201 with its ETag"

    def _local_drift(self, initial: dict[str, dict[str, bytes]]) -> list[str]:
        out = []
        for coll, files in initial.items():
            for name, body in files.items():
                f = self.vdir / coll / name
                if not f.exists() or f.read_bytes() != body:
                    out.append(f"{coll}/{name}")
        return out

    def check_pull(self) -> str:
        """Edits, deletions and additions made by another client over plain HTTP are pulled."""
        self.require_in_sync()
        before = read_vdir(self.vdir)
        srv = {c: self.server_state(c) for c in COLLECTIONS}
        changes = {  # what the other client does: (collection, uid) -> new bytes or None (deleted)
            ("calendar", "kv-newyork-call"): fx.new_york_call("Call with New York — moved by another client"),
            ("calendar", "kv-allday-trip"): None,
            ("tasks", "kv-task-open"): fx.task_open("Steuererklärung abgegeben ✅", status="COMPLETED"),
            ("tasks", "kv-task-done"): None,
            ("work", "kv-work-standup"): fx.work_standup("Stand-up (New York) — 15 minutes 🕘"),
        }
        additions = {  # (collection, href name chosen by the other client) -> bytes
            ("calendar", "Server Added ü.ics"): fx.ics(fx.calendar(fx.event(
                "kv-server-added", "Hinzugefügt auf dem Server · 服务器 🛰️",
                "DTSTART;TZID=Europe/Berlin:20261025T023000", "DTEND;TZID=Europe/Berlin:20261025T033000",
                "DESCRIPTION:Starts in the hour that happens twice when Berlin leaves summer time."),
                ("Europe/Berlin",))),
            ("tasks", "kv-task-server.ics"): fx.ics(fx.calendar(fx.todo(
                "kv-task-server", "Задача от другого клиента", "DUE;VALUE=DATE:20260901", "PRIORITY:5"))),
        }
        for (coll, uid), body in changes.items():
            item = srv[coll][uid]
            r = (self.direct.delete(item.href, if_match=item.etag) if body is None
                 else self.direct.put(item.href, body, if_match=item.etag))
            expect(r.status in (200, 204), f"other client's {'DELETE' if body is None else 'PUT'} {item.href} "
                                           f"(If-Match {item.etag}) answered {r.status}: {r.body[:300]!r}")
        for (coll, name), body in additions.items():
            href = self.collection_path(coll) + quote(name)
            r = self.direct.put(href, body, create=True)
            expect(r.status == 201, f"other client's PUT {href} (If-None-Match *) answered {r.status}: {r.body[:300]!r}")

        run = self.vds_ok(self.main_config, "sync", label="pull")
        problems = [f"the sync wrote to the server: {x.method} {x.path} -> {x.status}" for x in run.writes()]
        local = read_vdir(self.vdir)
        for (coll, uid), body in changes.items():
            item = local[coll].get(uid)
            if body is None and item is not None:
                problems.append(f"{coll}: {uid} was deleted on the server but is still in the vdir")
            elif body is not None and (item is None or item.body != body):
                problems.append(f"{coll}: {uid} in the vdir is not the other client's bytes: "
                                + ("missing" if item is None else first_difference(body, item.body)))
        for (coll, name), body in additions.items():
            item = local[coll].get(uid_of(body))
            if item is None or item.body != body:
                problems.append(f"{coll}: addition {name} not pulled byte for byte: "
                                + ("missing" if item is None else first_difference(body, item.body)))
        for coll, items in before.items():
            for uid, old in items.items():
                if (coll, uid) in changes:
                    continue
                now = local.get(coll, {}).get(uid)
                if now is None or now.stat != old.stat:
                    problems.append(f"{coll}: unchanged local file {old.path.name} was "
                                    + ("removed" if now is None else "rewritten"))
        problems += self.differences(self.vdir)
        expect(not problems, clip("\n".join(problems)))
        return (f"{sum(b is not None for b in changes.values())} edits, {sum(b is None for b in changes.values())} "
                f"deletions, {len(additions)} additions pulled byte for byte; no request wrote")

    def check_push(self) -> str:
        """Local edits, deletions and additions are pushed, with If-Match / If-None-Match."""
        self.require_in_sync()
        local = read_vdir(self.vdir)
        srv_before = {c: self.server_state(c) for c in COLLECTIONS}
        etags_before = self.server_etags()
        edits = {
            ("calendar", "kv-unicode"): fx.unicode_event(fx.UNICODE_DESCRIPTION + "\\n— bearbeitet lokal ✍️"),
            ("tasks", "kv-task-recurring"): fx.ics(fx.calendar(fx.todo(
                "kv-task-recurring", "植物に水をやる 🌱 (毎週月曜日)", "DTSTART;VALUE=DATE:20260105",
                "DUE;VALUE=DATE:20260106", "RRULE:FREQ=WEEKLY;BYDAY=MO", "STATUS:IN-PROCESS",
                "PERCENT-COMPLETE:40", sequence=1))),
        }
        deletions = [("calendar", "kv-folded"), ("work", "kv-work-review")]
        additions = {
            ("calendar", "kv-local-added.ics"): fx.ics(fx.calendar(fx.event(
                "kv-local-added", "Lokal hinzugefügt · محلي · ローカル 🏠",
                "DTSTART;TZID=America/New_York:20261101T013000",
                "DTEND;TZID=America/New_York:20261101T023000",
                "DESCRIPTION:01:30 happens twice in New York on this day; the first one is meant."),
                ("America/New_York",))),
            ("tasks", "kv-task-local.ics"): fx.ics(fx.calendar(fx.todo(
                "kv-task-local", "Lokale Aufgabe 📝", "DUE;TZID=Europe/Berlin:20260704T120000"),
                ("Europe/Berlin",))),
            ("work", "kv-work-local.ics"): fx.ics(fx.calendar(fx.event(
                "kv-work-local", "All-day offsite", "DTSTART;VALUE=DATE:20260915",
                "DTEND;VALUE=DATE:20260917"))),
        }
        for (coll, uid), body in edits.items():
            write_atomically(local[coll][uid].path, body)
        for coll, uid in deletions:
            local[coll][uid].path.unlink()
        for (coll, name), body in additions.items():
            (self.vdir / coll / name).write_bytes(body)
        after_edit = self.local_snapshot(self.vdir)

        run = self.vds_ok(self.main_config, "sync", label="push")
        problems = []
        srv = {c: self.server_state(c) for c in COLLECTIONS}
        for (coll, uid), body in edits.items():
            old = srv_before[coll][uid]
            put = [x for x in run.exchanges if x.method == "PUT" and x.path == old.href]
            if len(put) != 1:
                problems.append(f"{coll}: expected one PUT {old.href} for the edit of {uid}, saw {len(put)}")
            elif put[0].request_headers.get("if-match") != old.etag or put[0].status not in (200, 204):
                problems.append(f"{coll}: the edit of {uid} was not a conditional overwrite of ETag {old.etag} "
                                f"answered 200/204:\n{put[0].describe(300)}")
            if uid not in srv[coll] or srv[coll][uid].body != body:
                problems.append(f"{coll}: server copy of edited {uid} is not the local bytes")
        for coll, uid in deletions:
            old = srv_before[coll][uid]
            dels = [x for x in run.exchanges if x.method == "DELETE" and x.path == old.href]
            if len(dels) != 1 or dels[0].status not in (200, 204):
                problems.append(f"{coll}: expected one successful DELETE {old.href}, saw "
                                + "; ".join(f"{x.status}" for x in dels))
            elif dels[0].request_headers.get("if-match") != old.etag:
                problems.append(f"{coll}: DELETE {old.href} carried If-Match "
                                f"{dels[0].request_headers.get('if-match')!r}, expected {old.etag!r}")
            r = self.direct.get(old.href)
            if r.status != 404:
                problems.append(f"{coll}: GET {old.href} after the deletion answered {r.status}, expected 404")
        for (coll, name), body in additions.items():
            uid = uid_of(body)
            if uid not in srv[coll] or srv[coll][uid].body != body:
                problems.append(f"{coll}: addition {name} is not on the server byte for byte")
        changed_hrefs = {srv_before[c][u].href for (c, u) in edits} | {srv_before[c][u].href for c, u in deletions}
        etags_after = self.server_etags()
        for href, etag in etags_before.items():
            if href not in changed_hrefs and etags_after.get(href) != etag:
                problems.append(f"untouched {href} changed ETag {etag} -> {etags_after.get(href)}")
        if self.local_snapshot(self.vdir) != after_edit:
            problems.append("the sync rewrote files in the vdir while pushing")
        problems += self.differences(self.vdir)
        expect(not problems, clip("\n".join(problems)))
        return (f"{len(edits)} edits (If-Match), {len(deletions)} deletions (If-Match), {len(additions)} additions "
                f"pushed; other ETags unchanged")

    def check_resync_unchanged(self) -> str:
        """A sync with nothing changed sends no writing request and changes nothing on either side."""
        self.require_in_sync()
        etags = self.server_etags()
        bodies = {c: {u: i.body for u, i in self.server_state(c).items()} for c in COLLECTIONS}
        local = self.local_snapshot(self.vdir)
        run = self.vds_ok(self.main_config, "sync", label="resync-unchanged")
        problems = [f"wrote: {x.method} {x.path} -> {x.status}" for x in run.writes()]
        refetched = [x.path for x in run.exchanges if x.method == "REPORT" or x.method == "GET"]
        if refetched:
            problems.append(f"had to download objects again ({refetched}): the ETags PROPFIND lists differ "
                            f"from those the PUT responses and multiget gave")
        if self.server_etags() != etags:
            problems.append("server ETags changed")
        if {c: {u: i.body for u, i in self.server_state(c).items()} for c in COLLECTIONS} != bodies:
            problems.append("server objects changed")
        if self.local_snapshot(self.vdir) != local:
            problems.append("vdir files changed (bytes, mtime or inode)")
        noisy = [ln for ln in run.output.splitlines() if re.search(r"Copying|Deleting|conflict", ln)]
        if noisy:
            problems.append(f"vdirsyncer reported actions: {noisy}")
        problems += self.differences(self.vdir)
        expect(not problems, clip("\n".join(problems)))
        methods = sorted({x.method for x in run.exchanges})
        return f"{len(run.exchanges)} requests, all of them {methods}; ETags, objects and vdir files unchanged"

    def check_fresh_clone(self) -> str:
        """A new vdir with a new status, by discovery and by collection URLs, is identical to the first."""
        self.require_in_sync()
        first = {c: {u: i.body for u, i in items.items()} for c, items in read_vdir(self.vdir).items()}
        problems = []
        clone = self.work / "clone"
        clone.mkdir()
        cfg = self.write_config("clone", [Pair("clone", clone, self.proxy.base_url, ["from b"])])
        runs = [self.vds_ok(cfg, "discover", "clone", label="clone-discover"),
                self.vds_ok(cfg, "sync", label="clone-sync")]
        direct = self.work / "direct"
        pairs = []
        for coll in COLLECTIONS:
            (direct / coll).mkdir(parents=True)
            pairs.append(Pair(f"direct_{coll}", direct / coll, self.proxy.origin + self.collection_path(coll), None))
        cfg2 = self.write_config("direct", pairs)
        runs += [self.vds_ok(cfg2, "discover", label="direct-discover"),
                 self.vds_ok(cfg2, "sync", label="direct-sync")]
        for label, root in (("clone by discovery", clone), ("clone by collection URL", direct)):
            got = {c: {u: i.body for u, i in items.items()} for c, items in read_vdir(root).items()}
            if set(got) != set(first):
                problems.append(f"{label}: collections {sorted(got)}, first vdir has {sorted(first)}")
            for coll in first:
                a, b = first[coll], got.get(coll, {})
                if set(a) != set(b):
                    problems.append(f"{label}/{coll}: UIDs {sorted(b)} != first vdir's {sorted(a)}")
                for uid in sorted(set(a) & set(b)):
                    if a[uid] != b[uid]:
                        problems.append(f"{label}/{coll}/{uid}: {first_difference(a[uid], b[uid])}")
        for run in runs:
            problems += [f"{run.label} wrote: {x.method} {x.path} -> {x.status}" for x in run.writes()]
        expect(not problems, clip("\n".join(problems)))
        n = sum(len(v) for v in first.values())
        return f"both clones hold the same {n} objects in {len(first)} collections, byte for byte; no request wrote"

    def check_conflict(self) -> str:
        """An item changed on both sides is resolved by `conflict_resolution = "a wins"`, and an
        overwrite racing another client's edit is refused with 412 (If-Match) instead of losing it."""
        self.require_in_sync()
        problems = []
        # Part 1: both sides edited between two syncs.
        uid = "kv-weekly-berlin"
        local_item = read_vdir(self.vdir)["calendar"][uid]
        srv_item = self.server_state("calendar")[uid]
        local_body = fx.weekly_berlin("Weekly planning — edited in the vdir (wins)", sequence=1)
        other_body = fx.weekly_berlin("Weekly planning — edited on the server (loses)", sequence=1)
        write_atomically(local_item.path, local_body)
        r = self.direct.put(srv_item.href, other_body, if_match=srv_item.etag)
        expect(r.status in (200, 204), f"other client's PUT {srv_item.href} answered {r.status}")
        other_etag = self.direct.members(self.collection_path("calendar"))
        other_etag = next(m.etag for m in other_etag if m.href == srv_item.href)
        run = self.vds(self.main_config, "sync", label="conflict-both-edited")
        if run.returncode != 0:
            problems.append("[both edited] " + run.summary())
        if f"Doing conflict resolution for item {uid}" not in run.output:
            problems.append(f"[both edited] vdirsyncer did not see a conflict for {uid}")
        puts = [x for x in run.exchanges if x.method == "PUT" and x.path == srv_item.href]
        if len(puts) != 1 or puts[0].request_headers.get("if-match") != other_etag or puts[0].status not in (200, 204):
            problems.append(f"[both edited] expected one PUT {srv_item.href} with If-Match {other_etag} (the other "
                            f"client's version) answered 200/204, saw:\n" + "\n".join(x.describe(300) for x in puts))
        now = self.server_state("calendar")[uid].body
        if now != local_body:
            problems.append(f"[both edited] the server does not hold the winner (a = vdir): "
                            f"{first_difference(local_body, now)}")
        if local_item.path.read_bytes() != local_body:
            problems.append("[both edited] the vdir lost the winning version")

        # Part 2: vdirsyncer's conditional PUT races another client's edit.
        uid2 = "kv-newyork-call"
        local2 = read_vdir(self.vdir)["calendar"][uid2]
        srv2 = self.server_state("calendar")[uid2]
        mine = fx.new_york_call("Call with New York — edited in the vdir")
        theirs = fx.new_york_call("Call with New York — edited by another client mid-sync")
        write_atomically(local2.path, mine)
        raced: list[int] = []

        def race(method: str, path: str, headers: dict[str, str], _body: bytes) -> None:
            if method == "PUT" and path == srv2.href and not raced:
                raced.append(self.direct.put(srv2.href, theirs, if_match=srv2.etag).status)

        run = self.vds(self.main_config, "sync", label="conflict-race", hook=race)
        puts = [x for x in run.exchanges if x.method == "PUT" and x.path == srv2.href]
        if raced != [204] and raced != [200]:
            problems.append(f"[race] the other client's PUT did not go through: {raced}")
        elif len(puts) != 1 or puts[0].request_headers.get("if-match") != srv2.etag:
            problems.append(f"[race] expected one PUT {srv2.href} with If-Match {srv2.etag}, saw "
                            + "\n".join(x.describe(300) for x in puts))
        elif puts[0].status != 412:
            problems.append(f"[race] PUT with a stale If-Match was answered {puts[0].status}, expected 412 "
                            f"(RFC 9110 §13.1.1, RFC 4918 §12.1):\n{puts[0].describe(300)}")
        if run.returncode == 0:
            problems.append("[race] vdirsyncer exited 0 although its write was refused")
        if self.server_state("calendar")[uid2].body != theirs:
            problems.append("[race] the other client's edit was lost (the server does not hold it)")
        run = self.vds(self.main_config, "sync", label="conflict-after-race")
        if run.returncode != 0:
            problems.append("[after race] " + run.summary())
        if f"Doing conflict resolution for item {uid2}" not in run.output:
            problems.append(f"[after race] vdirsyncer did not resolve {uid2} as a conflict")
        if self.server_state("calendar")[uid2].body != mine or local2.path.read_bytes() != mine:
            problems.append("[after race] the two sides do not both hold the winner (a = vdir)")
        problems += self.differences(self.vdir)
        expect(not problems, clip("\n".join(problems)))
        return ("both-sides edit resolved to the vdir's version with If-Match on the other client's ETag; "
                "a racing overwrite got 412, kept the other client's edit, and the next sync resolved it")

    def check_collections(self) -> str:
        """Both calendars (the default one and one vdirsyncer created) and the task list sync."""
        if not self.upload_ok:
            raise CheckSkipped("needs `upload`, which did not pass")
        problems = []
        mkcols = [x for x in (self.discover_run.exchanges if self.discover_run else []) if x.method == "MKCOL"]
        work_path = self.collection_path("work").rstrip("/")
        if not any(x.path.rstrip("/") == work_path and x.status == 201 for x in mkcols):
            problems.append(f"vdirsyncer did not create `work` with MKCOL {work_path} -> 201; saw "
                            + ("\n".join(x.describe(400) for x in mkcols) or "no MKCOL"))
        colls = self.direct.subcollections(self.home_path)
        for coll in COLLECTIONS:
            if f"{CALDAV}calendar" not in colls.get(coll, set()):
                problems.append(f"{coll} is not a calendar collection in the home: {colls.get(coll)}")
        state = {c: self.server_state(c) for c in COLLECTIONS}
        kinds = {"calendar": {"VEVENT"}, "tasks": {"VTODO"}, "work": {"VEVENT"}}
        for coll, want in kinds.items():
            if not state[coll]:
                problems.append(f"{coll} is empty on the server")
            for uid, item in state[coll].items():
                if components_of(item.body) != want:
                    problems.append(f"{coll}/{uid} holds {components_of(item.body)}, expected {want}")
        for coll in COLLECTIONS:
            prefix = self.collection_path(coll)
            pushed = [x for r in self.all_runs for x in r.exchanges
                      if x.method == "PUT" and x.path.startswith(prefix) and x.status < 300]
            pulled = [x for r in self.all_runs if r.label == "pull" for x in r.exchanges
                      if x.method == "REPORT" and x.path.startswith(prefix) and x.status == 207
                      and b"calendar-multiget" in x.request_body]
            if not pushed:
                problems.append(f"{coll}: vdirsyncer never wrote an object to it")
            if not pulled:
                problems.append(f"{coll}: the `pull` sync never fetched from it with calendar-multiget")
        problems += self.differences(self.vdir)
        expect(not problems, clip("\n".join(problems)))
        return (", ".join(f"{c}: {len(state[c])} {'/'.join(sorted(kinds[c]))}" for c in COLLECTIONS)
                + "; each pushed to and pulled from; `work` created by MKCOL")

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("discovery", self.check_discovery),
            ("upload", self.check_upload),
            ("pull-server-changes", self.check_pull),
            ("push-local-changes", self.check_push),
            ("resync-unchanged", self.check_resync_unchanged),
            ("fresh-clone", self.check_fresh_clone),
            ("conflict", self.check_conflict),
            ("collections", self.check_collections),
        ]


def run_checks(suite: Suite) -> list[dict]:
    results = []
    for name, fn in suite.checks():
        started = time.monotonic()
        try:
            if suite.remaining() < 10:
                raise OutOfTime("the suite's time budget (KALENDS_CONF_TIMEOUT) is used up")
            reason = fn()
            outcome = "passed"
        except CheckFailed as e:
            outcome, reason = "failed", str(e)
        except CheckSkipped as e:
            outcome, reason = "skipped", str(e)
        except OutOfTime as e:
            outcome, reason = "failed", f"out of time: {e}"
        except (AssertionError, OSError, ValueError, KeyError) as e:
            # The server answered something the check could not read (a missing object, a
            # non-207 PROPFIND, unparsable XML, ...): a failure, with what went wrong.
            outcome, reason = "failed", f"{type(e).__name__}: {e}"
        except Exception:
            outcome, reason = "failed", "error inside the suite itself:\n" + clip(traceback.format_exc())
        results.append({"name": name, "outcome": outcome, "reason": reason,
                        "seconds": round(time.monotonic() - started, 1)})
    return results

