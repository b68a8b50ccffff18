"""Tests of the score ratchet (conformance/ratchet.py), standard library only.

conformance/run runs these before any suite, and refuses to run if one fails:

    python3 -m unittest conformance/test_ratchet.py     # the same, by hand
"""

import json
import unittest

import ratchet
from ratchet import SuiteRun, TestResult


def run_of(outcomes: dict, **kw) -> SuiteRun:
    tests = [TestResult(name, outcome, f"why {name}" if outcome != "passed" else "") for name, outcome in outcomes.items()]
    return SuiteRun(kw.pop("suite", "litmus"), kw.pop("engine", "sqlite"), kw.pop("version", "litmus 0.13"), tests, **kw)


def record_of(*names, version="litmus 0.13") -> dict:
    return {"version": version, "passed": len(names), "passing": sorted(names)}


class Compare(unittest.TestCase):
    def test_same_as_recorded_is_ok(self):
        v = ratchet.compare(run_of({"a": "passed", "b": "passed", "c": "failed"}), record_of("a", "b"))
        self.assertEqual(v.status, "ok")
        self.assertFalse(v.failed)
        self.assertEqual(v.messages, [])

    def test_a_recorded_test_that_fails_is_a_regression_naming_it(self):
        v = ratchet.compare(run_of({"a": "passed", "b": "failed"}), record_of("a", "b"))
        self.assertTrue(v.failed)
        self.assertEqual(v.status, "regressed")
        text = "\n".join(v.messages)
        self.assertIn("1 passed, fewer than the 2 recorded", text)
        self.assertIn("b: was passing, now failed (why b)", text)

    def test_a_swap_keeps_the_count_but_still_regresses(self):
        # As many pass as before, but not the same ones: the lost test is named.
        v = ratchet.compare(run_of({"a": "passed", "b": "failed", "c": "passed"}), record_of("a", "b"))
        self.assertTrue(v.failed)
        self.assertEqual(v.messages, ["b: was passing, now failed (why b)"])

    def test_skipped_or_vanished_recorded_tests_regress(self):
        v = ratchet.compare(run_of({"a": "skipped", "x": "passed", "y": "passed"}), record_of("a", "b"))
        self.assertTrue(v.failed)
        self.assertIn("a: was passing, now skipped (why a)", v.messages)
        self.assertIn("b: was passing, now not reported at all", v.messages)

    def test_fewer_passed_than_recorded_regresses_even_without_names(self):
        # A record whose count is above its list cannot be loaded, but compare() holds anyway.
        v = ratchet.compare(run_of({"a": "passed"}), {"version": "v", "passed": 3, "passing": ["a"]})
        self.assertTrue(v.failed)
        self.assertIn("1 passed, fewer than the 3 recorded", v.messages[0])

    def test_more_passing_is_an_improvement_not_a_failure(self):
        v = ratchet.compare(run_of({"a": "passed", "b": "passed"}), record_of("a"))
        self.assertEqual(v.status, "improved")
        self.assertFalse(v.failed)
        self.assertIn("1 more passing than recorded (b)", v.messages[0])

    def test_a_suite_without_record_is_reported_and_not_failed(self):
        v = ratchet.compare(run_of({"a": "failed"}), None)
        self.assertEqual(v.status, "new")
        self.assertFalse(v.failed)
        self.assertIn("no record yet", v.messages[0])

    def test_errored_and_partial_runs_are_not_compared(self):
        for run in (SuiteRun("s", "sqlite", error="litmus missing"), run_of({"a": "passed"}, partial=True)):
            v = ratchet.compare(run, record_of("a", "b"))
            self.assertEqual(v.status, "not compared")
            self.assertFalse(v.failed)

    def test_a_killed_run_with_no_tests_regresses(self):
        v = ratchet.compare(SuiteRun("litmus", "sqlite", note="killed after 600s"), record_of("a"))
        self.assertTrue(v.failed)

    def test_a_version_change_is_mentioned(self):
        v = ratchet.compare(run_of({"a": "passed"}, version="litmus 0.14"), record_of("a"))
        self.assertEqual(v.status, "ok")
        self.assertIn("version changed: recorded with litmus 0.13, ran litmus 0.14", v.messages)


class Record(unittest.TestCase):
    def test_record_replaces_only_the_runs_given_and_round_trips(self):
        old = ratchet.empty_scores()
        old["suites"] = {"other": {"sqlite": record_of("z")}, "litmus": {"sqlite": record_of("a"), "postgres": record_of("a")}}
        new, left_out = ratchet.with_runs(old, [run_of({"b": "passed", "a": "passed", "c": "failed"})])
        self.assertEqual(left_out, [])
        self.assertEqual(new["suites"]["litmus"]["sqlite"], record_of("a", "b"))
        self.assertEqual(new["suites"]["litmus"]["postgres"], record_of("a"))
        self.assertEqual(new["suites"]["other"], {"sqlite": record_of("z")})
        self.assertEqual(old["suites"]["litmus"]["sqlite"], record_of("a"), "the input is not changed")
        self.assertEqual(ratchet.load_scores(ratchet.dump_scores(new)), new)

    def test_errored_partial_or_noted_runs_are_not_recorded(self):
        runs = [SuiteRun("s", "sqlite", error="setup"), run_of({"a": "passed"}, partial=True), run_of({}, note="killed")]
        new, left_out = ratchet.with_runs(ratchet.empty_scores(), runs)
        self.assertEqual(new["suites"], {})
        self.assertEqual(len(left_out), 3)

    def test_malformed_scores_are_refused(self):
        bad = [
            {"suites": {}},
            {"format": 1, "suites": []},
            {"format": 1, "suites": {"s": {"sqlite": {"passed": 2, "passing": ["a"]}}}},
            {"format": 1, "suites": {"s": {"sqlite": {"passed": "1", "passing": ["a"]}}}},
        ]
        for data in bad:
            with self.assertRaises(ValueError, msg=json.dumps(data)):
                ratchet.load_scores(json.dumps(data))


class ResultFile(unittest.TestCase):
    def test_a_valid_result(self):
        text = json.dumps({"suite": "s", "version": "t 1", "tests": [
            {"name": "a", "outcome": "passed"}, {"name": "b", "outcome": "failed", "reason": "r"}]})
        version, tests = ratchet.parse_result(text, "s")
        self.assertEqual(version, "t 1")
        self.assertEqual(tests, [TestResult("a", "passed", ""), TestResult("b", "failed", "r")])

    def test_invalid_results_are_refused(self):
        cases = {
            "not json": "{",
            "other suite": {"suite": "t", "version": "1", "tests": [{"name": "a", "outcome": "passed"}]},
            "no version": {"suite": "s", "tests": [{"name": "a", "outcome": "passed"}]},
            "no tests": {"suite": "s", "version": "1", "tests": []},
            "bad outcome": {"suite": "s", "version": "1", "tests": [{"name": "a", "outcome": "ok"}]},
            "duplicate": {"suite": "s", "version": "1", "tests": [{"name": "a", "outcome": "passed"}] * 2},
        }
        for what, data in cases.items():
            text = data if isinstance(data, str) else json.dumps(data)
            with self.assertRaises(ratchet.InvalidResult, msg=what):
                ratchet.parse_result(text, "s")


if __name__ == "__main__":
    unittest.main()
