#!/usr/bin/env python3
"""Golden recurrence instances, computed independently of Kalends.

For every case in fixtures/recurrence/cases.toml, the instances of
fixtures/recurrence/cases/<case>.ics inside the case's UTC window are computed
with recurring-ical-events (and icalendar), filtered by the RFC 4791 §9.9
time-range rule, corrected by fixtures/recurrence/corrections.json, and
compared with (or, with --write, written to)
fixtures/recurrence/expected/<case>.json.

    conformance/recurrence/generate.py            # check: exit 1 on any difference
    conformance/recurrence/generate.py --write    # (re)write the goldens
    conformance/recurrence/generate.py --write CASE...

The script starts with only the standard library: it creates (once) a venv
under .conformance-cache/, keyed on requirements.txt and the Python version,
and re-runs itself inside it. Time zones come from the pinned tzdata package,
not from the machine, so that every machine computes the same goldens.
"""

import argparse
import difflib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
REQUIREMENTS = ROOT / "conformance" / "recurrence" / "requirements.txt"
CACHE = ROOT / ".conformance-cache"
FIXTURES = ROOT / "fixtures" / "recurrence"
MANIFEST = FIXTURES / "cases.toml"
CORRECTIONS = FIXTURES / "corrections.json"
CASES = FIXTURES / "cases"
EXPECTED = FIXTURES / "expected"

# Set in the environment of the re-run inside the venv.
IN_VENV = "KALENDS_RECURRENCE_VENV"

# recurring-ical-events compares floating times and DATEs with the query's
# bounds as if they were UTC; the query is widened by more than any UTC offset
# (±14 h) and the exact §9.9 test is applied afterwards in the case's zone.
MARGIN = timedelta(days=2)

UTC_FORMAT = "%Y%m%dT%H%M%SZ"


def log(msg):
    print(f"recurrence goldens: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- venv


def ensure_venv():
    """The interpreter of the cached venv with requirements.txt installed."""
    key_src = REQUIREMENTS.read_bytes() + f"{sys.version}|{platform.machine()}".encode()
    key = hashlib.sha256(key_src).hexdigest()[:16]
    # Not named venv-*: conformance/run removes those when its own key changes.
    venv = CACHE / f"recurrence-venv-{key}"
    python = venv / "bin" / "python"
    done = venv / ".complete"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / ".recurrence.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return python
        for old in CACHE.glob("recurrence-venv-*"):
            shutil.rmtree(old, ignore_errors=True)
        log(f"creating virtualenv {venv.relative_to(ROOT)}")
        if subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            sys.exit("`python3 -m venv` failed; on Debian install python3-venv")
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        if subprocess.run(pip + ["-r", str(REQUIREMENTS)], stdin=subprocess.DEVNULL).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            sys.exit(f"pip install -r {REQUIREMENTS.relative_to(ROOT)} failed")
        done.write_text("ok\n")
        return python


def rerun_in_venv():
    python = ensure_venv()
    # An empty PYTHONTZPATH makes zoneinfo use the pinned tzdata package only.
    env = dict(os.environ, PYTHONTZPATH="", **{IN_VENV: "1"})
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


# ---------------------------------------------------------------- cases


def parse_utc(text):
    return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=timezone.utc)


def load_cases():
    manifest = tomllib.loads(MANIFEST.read_text())
    cases = manifest["case"]
    names = [c["name"] for c in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        sys.exit(f"duplicate case names in {MANIFEST.name}: {sorted(duplicates)}")
    return cases


def to_utc(value, zone):
    """A DATE or DATE-TIME as a UTC datetime; floating values and DATEs are
    read in the calendar's zone (RFC 4791 §7.3, RFC 5545 §3.3.4/§3.3.5). A
    nonexistent local time gets the offset before the gap (fold=0), as
    RFC 5545 §3.3.5 requires, and an ambiguous one its first occurrence."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(timezone.utc)


def recurring_uids(calendar):
    """UIDs of the components that form a recurrence set: an RRULE or RDATE,
    or an override (RECURRENCE-ID) of the UID (RFC 5545 §3.8.4.4, §3.8.5)."""
    uids = set()
    for comp in calendar.subcomponents:
        if any(p in comp for p in ("RRULE", "RDATE", "RECURRENCE-ID")):
            uids.add(str(comp.get("UID")))
    return uids


def instance_of(component, calendar, zone, recurring):
    """One golden instance from a component recurring-ical-events returned."""
    uid = str(component.get("UID"))
    start = component["DTSTART"].dt
    end_prop = component.get("DTEND") if component.name == "VEVENT" else component.get("DUE")
    end = end_prop.dt if end_prop is not None else start
    if component.name == "VEVENT" and end_prop is None and not isinstance(start, datetime):
        end = start + timedelta(days=1)  # RFC 5545 §3.6.1
    rid_prop = component.get("RECURRENCE-ID")
    recurrence_id = None
    if uid in recurring and rid_prop is not None:
        recurrence_id = to_utc(rid_prop.dt, zone)
        override_start = own_override_start(calendar, component, rid_prop, zone)
        if override_start is not None and to_utc(start, zone) != override_start:
            # recurring-ical-events copies a THISANDFUTURE override's
            # RECURRENCE-ID onto every instance it moves; each moved instance
            # is identified by the master instance it replaces, i.e. its start
            # less the override's shift (RFC 5545 §3.8.4.4).
            recurrence_id = to_utc(start, zone) - (override_start - recurrence_id)
    status = component.get("STATUS")
    return {
        "uid": uid,
        "recurrence_id": recurrence_id.strftime(UTC_FORMAT) if recurrence_id else None,
        "start": to_utc(start, zone).strftime(UTC_FORMAT),
        "end": to_utc(end, zone).strftime(UTC_FORMAT),
        "all_day": not isinstance(start, datetime),
        "status": str(status).upper() if status is not None else None,
    }


def own_override_start(calendar, component, rid_prop, zone):
    """The DTSTART (UTC) of the RANGE=THISANDFUTURE override the component
    was copied from, or None when it is no such copy."""
    if rid_prop.params.get("RANGE") != "THISANDFUTURE":
        return None
    for source in calendar.subcomponents:
        if (
            source.name == component.name
            and str(source.get("UID")) == str(component.get("UID"))
            and source.get("RECURRENCE-ID") is not None
            and source["RECURRENCE-ID"].to_ical() == rid_prop.to_ical()
        ):
            return to_utc(source["DTSTART"].dt, zone)
    return None


def overlaps(kind, source, inst, window_start, window_end):
    """The RFC 4791 §9.9 time-range test for one instance. A zero-length
    instance is a point: window start <= start < window end."""
    s, e = parse_utc(inst["start"]), parse_utc(inst["end"])
    if kind == "VTODO":
        if "DUE" in source:
            # (start < DUE OR start <= DTSTART) AND (end > DTSTART OR end >= DUE)
            return (window_start < e or window_start <= s) and (window_end > s or window_end >= e)
        if "DURATION" in source:
            # (start <= DTSTART+DURATION) AND (end > DTSTART OR end >= DTSTART+DURATION)
            return window_start <= e and (window_end > s or window_end >= e)
        return window_start <= s < window_end
    if e > s:
        return window_start < e and window_end > s
    return window_start <= s < window_end


def source_component(calendar, component):
    """The component of the original object an instance was derived from:
    the override with its RECURRENCE-ID, else the master of its UID."""
    uid = str(component.get("UID"))
    rid = component.get("RECURRENCE-ID")
    master = None
    for source in calendar.subcomponents:
        if source.name != component.name or str(source.get("UID")) != uid:
            continue
        if source.get("RECURRENCE-ID") is None:
            master = source
        elif rid is not None and source["RECURRENCE-ID"].to_ical() == rid.to_ical():
            return source
    return master


def compute(case):
    """The uncorrected instances of one case, sorted."""
    import icalendar
    import recurring_ical_events
    from zoneinfo import ZoneInfo

    calendar = icalendar.Calendar.from_ical((CASES / f"{case['name']}.ics").read_bytes())
    zone = ZoneInfo(case.get("zone", "UTC"))
    window_start, window_end = parse_utc(case["start"]), parse_utc(case["end"])
    query = recurring_ical_events.of(
        calendar, keep_recurrence_attributes=True, components=("VEVENT", "VTODO")
    )
    recurring = recurring_uids(calendar)
    found = []
    for component in query.between(window_start - MARGIN, window_end + MARGIN):
        inst = instance_of(component, calendar, zone, recurring)
        source = source_component(calendar, component)
        if overlaps(component.name, source, inst, window_start, window_end):
            found.append(inst)
    return sorted(found, key=sort_key)


def sort_key(inst):
    return (inst["start"], inst["uid"], inst["recurrence_id"] or "", inst["end"])


def load_corrections():
    corrections = json.loads(CORRECTIONS.read_text())
    for c in corrections:
        missing = {"case", "rfc", "why"} - c.keys()
        if missing or not (c.get("remove") or c.get("add")):
            sys.exit(f"{CORRECTIONS.name}: each correction needs case, rfc, why and remove/add: {c}")
    return corrections


def correct(name, instances, corrections):
    """Applies the corrections of one case. Each must still be needed: an
    instance to remove must be in the library's output and one to add must
    be missing, so that a fixed library shows up here instead of hiding."""
    for c in (c for c in corrections if c["case"] == name):
        for wrong in c.get("remove", []):
            if wrong not in instances:
                sys.exit(f"{name}: correction ({c['rfc']}) removes an instance the library no longer gives: {wrong}")
            instances.remove(wrong)
        for right in c.get("add", []):
            if right in instances:
                sys.exit(f"{name}: correction ({c['rfc']}) adds an instance the library already gives: {right}")
            instances.append(right)
    return sorted(instances, key=sort_key)


def render(name, instances):
    return json.dumps({"case": name, "instances": instances}, indent=2) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="(re)write the golden files")
    parser.add_argument("cases", nargs="*", help="only these cases (default: all)")
    args = parser.parse_args()
    if os.environ.get(IN_VENV) != "1":
        rerun_in_venv()

    cases = load_cases()
    corrections = load_corrections()
    known = {c["name"] for c in cases}
    for c in corrections:
        if c["case"] not in known:
            sys.exit(f"{CORRECTIONS.name} names an unknown case: {c['case']}")
    unknown = set(args.cases) - known
    if unknown:
        sys.exit(f"unknown cases: {sorted(unknown)}")
    for path in EXPECTED.glob("*.json"):
        if path.stem not in known:
            sys.exit(f"{path.relative_to(ROOT)} belongs to no case in {MANIFEST.name}")

    selected = [c for c in cases if not args.cases or c["name"] in args.cases]
    differ, written = [], 0
    EXPECTED.mkdir(exist_ok=True)
    for case in selected:
        name = case["name"]
        text = render(name, correct(name, compute(case), corrections))
        golden = EXPECTED / f"{name}.json"
        old = golden.read_text() if golden.exists() else ""
        if text == old:
            continue
        if args.write:
            golden.write_text(text)
            written += 1
            log(f"wrote {golden.relative_to(ROOT)}")
        else:
            differ.append(name)
            diff = difflib.unified_diff(
                old.splitlines(), text.splitlines(), f"{name}.json (golden)", f"{name}.json (computed)", lineterm=""
            )
            print("\n".join(diff))
    if differ:
        log(f"{len(differ)} of {len(selected)} goldens differ: {', '.join(differ)}")
        log("run conformance/recurrence/generate.py --write to regenerate them")
        return 1
    if args.write:
        log(f"{len(selected)} cases: {written} goldens written, the others unchanged")
    else:
        log(f"{len(selected)} cases match their goldens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
