"""The conformance score ratchet, and the suite result format it reads.

conformance/scores.json records, per suite and storage engine, how many tests passed and
which ones. A run may not fall below it: fewer passing tests than recorded, or any recorded
test that no longer passes (failed, skipped or not reported at all), is a regression and
fails the run, naming each test. More passing tests than recorded is an improvement: it is
reported, and `conformance/run --record` raises the record to it. A suite or engine with no
record yet is reported and never fails.

Python standard library only: conformance/run imports this module before any venv exists.
Its tests are conformance/test_ratchet.py, which conformance/run runs before anything else.
"""

import json
from dataclasses import dataclass, field

OUTCOMES = ("passed", "failed", "skipped")
SCORES_FORMAT = 1


@dataclass
class TestResult:
    name: str
    outcome: str  # one of OUTCOMES
    reason: str = ""


@dataclass
class SuiteRun:
    """One suite against one engine (or an external server)."""

    suite: str
    engine: str
    version: str = ""
    tests: list = field(default_factory=list)  # of TestResult
    # The suite could not run at all (setup error): no tests, exit status 2.
    error: str = ""
    # It ran but the run itself went wrong (killed at its time limit, no report...): exit 1.
    note: str = ""
    # Only a selection of its tests ran (pytest -k ...): neither compared nor recorded.
    partial: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for t in self.tests if t.outcome == outcome)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    def passing(self) -> list:
        return sorted(t.name for t in self.tests if t.outcome == "passed")


class InvalidResult(ValueError):
    """A suite's result.json that does not follow the interface (docs/conformance.md)."""


def parse_result(text: str, suite: str) -> tuple:
    """(version, [TestResult]) from a suite's result.json text; InvalidResult if malformed."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InvalidResult(f"result.json is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise InvalidResult("result.json must hold an object")
    if data.get("suite") != suite:
        raise InvalidResult(f"result.json names suite {data.get('suite')!r}, expected {suite!r}")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise InvalidResult("result.json needs a non-empty \"version\" string")
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        raise InvalidResult("result.json needs a non-empty \"tests\" list")
    out, seen = [], set()
    for i, t in enumerate(tests):
        if not isinstance(t, dict):
            raise InvalidResult(f"tests[{i}] is not an object")
        name, outcome, reason = t.get("name"), t.get("outcome"), t.get("reason", "")
        if not isinstance(name, str) or not name:
            raise InvalidResult(f"tests[{i}] has no name")
        if outcome not in OUTCOMES:
            raise InvalidResult(f"test {name!r}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        if not isinstance(reason, str):
            raise InvalidResult(f"test {name!r}: reason must be a string")
        # Names are what the ratchet remembers: two tests of one name could hide each other.
        if name in seen:
            raise InvalidResult(f"test name {name!r} appears twice")
        seen.add(name)
        out.append(TestResult(name, outcome, reason))
    return version.strip(), out


def load_scores(text: str) -> dict:
    """The parsed scores file; ValueError naming what is wrong with it."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != SCORES_FORMAT:
        raise ValueError(f"scores file: expected an object with \"format\": {SCORES_FORMAT}")
    suites = data.get("suites")
    if not isinstance(suites, dict):
        raise ValueError("scores file: \"suites\" must be an object")
    for suite, engines in suites.items():
        if not isinstance(engines, dict):
            raise ValueError(f"scores file: suites.{suite} must be an object")
        for engine, rec in engines.items():
            where = f"suites.{suite}.{engine}"
            if not isinstance(rec, dict):
                raise ValueError(f"scores file: {where} must be an object")
            if not isinstance(rec.get("passed"), int) or rec["passed"] < 0:
                raise ValueError(f"scores file: {where}.passed must be a count")
            passing = rec.get("passing")
            if not isinstance(passing, list) or not all(isinstance(n, str) for n in passing):
                raise ValueError(f"scores file: {where}.passing must be a list of test names")
            if len(passing) != rec["passed"]:
                raise ValueError(f"scores file: {where}: passed is {rec['passed']} but {len(passing)} names are listed")
    return data


def empty_scores() -> dict:
    return {"format": SCORES_FORMAT, "suites": {}}


def record_of(scores: dict, suite: str, engine: str):
    return scores.get("suites", {}).get(suite, {}).get(engine)


@dataclass
class Verdict:
    suite: str
    engine: str
    # "ok" (as recorded), "improved", "regressed", "new" (no record), "not compared"
    status: str
    messages: list = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "regressed"


def compare(run: SuiteRun, record) -> Verdict:
    """Judges one run against its record (None when there is none)."""
    v = Verdict(run.suite, run.engine, "ok")
    if run.error:
        v.status = "not compared"
        v.messages.append("could not run, so it was not compared with the record")
        return v
    if run.partial:
        v.status = "not compared"
        v.messages.append("only a selection of its tests ran, so it was not compared with the record")
        return v
    if record is None:
        v.status = "new"
        v.messages.append(f"no record yet ({run.passed} passed); `conformance/run --record` makes one")
        return v
    by_name = {t.name: t for t in run.tests}
    for name in record["passing"]:
        t = by_name.get(name)
        if t is None:
            v.messages.append(f"{name}: was passing, now not reported at all")
        elif t.outcome != "passed":
            why = f" ({t.reason})" if t.reason else ""
            v.messages.append(f"{name}: was passing, now {t.outcome}{why}")
    lost_count = run.passed < record["passed"]
    if lost_count:
        v.messages.insert(0, f"{run.passed} passed, fewer than the {record['passed']} recorded")
    if v.messages:
        v.status = "regressed"
    else:
        gained = sorted(set(run.passing()) - set(record["passing"]))
        if gained:
            v.status = "improved"
            v.messages.append(
                f"{len(gained)} more passing than recorded ({', '.join(gained[:5])}"
                f"{', ...' if len(gained) > 5 else ''}); `conformance/run --record` raises the record"
            )
    recorded_version = record.get("version")
    if recorded_version and recorded_version != run.version:
        v.messages.append(f"version changed: recorded with {recorded_version}, ran {run.version}")
    return v


def with_runs(scores: dict, runs) -> tuple:
    """A copy of `scores` with the records of `runs` replaced, and the runs left out (with why).

    Runs that could not run or ran only a selection are not recorded: their numbers say
    nothing about the suite. Records of suites and engines that did not run stay as they are.
    """
    out = json.loads(json.dumps(scores)) if scores else empty_scores()
    out["format"] = SCORES_FORMAT
    suites = out.setdefault("suites", {})
    skipped = []
    for run in runs:
        if run.error or run.partial or run.note:
            skipped.append((run, run.error or run.note or "only a selection of its tests ran"))
            continue
        suites.setdefault(run.suite, {})[run.engine] = {
            "version": run.version,
            "passed": run.passed,
            "passing": run.passing(),
        }
    return out, skipped


def dump_scores(scores: dict) -> str:
    """Stable text (sorted keys, one test name per line), so a changed record diffs readably."""
    return json.dumps(scores, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
