"""Tests of how the litmus suite reads litmus's output (standard library only).

conformance/run runs these with its own self-test, before any suite. The fixture is litmus
0.13's real output against Kalends before whole-collection COPY/MOVE existed, with its
carriage returns, warnings, failures and a multi-line SKIPPED reason.
"""

import importlib.machinery
import importlib.util
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load_suite():
    loader = importlib.machinery.SourceFileLoader("litmus_suite", str(HERE / "run"))
    spec = importlib.util.spec_from_loader("litmus_suite", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


suite = load_suite()
FIXTURE = (HERE / "testdata" / "kalends-0.1-before-collection-copy.txt").read_bytes().decode()


def group_output(group: str) -> str:
    start = FIXTURE.index(f"-> running `{group}'")
    end = FIXTURE.find("-> running `", start + 1)
    return FIXTURE[start:end if end >= 0 else len(FIXTURE)]


class ParseGroup(unittest.TestCase):
    def test_counts_agree_with_litmus_summaries(self):
        expected = {"basic": (16, 0, 0), "copymove": (8, 5, 0), "props": (29, 1, 0), "locks": (3, 0, 1), "http": (4, 0, 0)}
        for group, (passed, failed, skipped) in expected.items():
            tests, summary = suite.parse_group(group, group_output(group))
            outcomes = [t["outcome"] for t in tests]
            got = (outcomes.count("passed"), outcomes.count("failed"), outcomes.count("skipped"))
            self.assertEqual(got, (passed, failed, skipped), group)
            self.assertEqual(summary, (passed, failed), group)

    def test_names_follow_litmus_numbering(self):
        tests, _ = suite.parse_group("props", group_output("props"))
        names = [t["name"] for t in tests]
        self.assertEqual(names[0], "props/00.init")
        self.assertIn("props/20.propget", names)
        self.assertEqual(len(names), len(set(names)), "repeated propget tests keep distinct names")

    def test_reasons_and_warnings(self):
        tests, _ = suite.parse_group("copymove", group_output("copymove"))
        by_name = {t["name"]: t for t in tests}
        self.assertEqual(by_name["copymove/04.copy_overwrite"],
                         {"name": "copymove/04.copy_overwrite", "outcome": "failed",
                          "reason": "COPY overwrites collection: 403 Forbidden"})
        tests, _ = suite.parse_group("basic", group_output("basic"))
        by_name = {t["name"]: t for t in tests}
        self.assertEqual(by_name["basic/02.options"]["outcome"], "passed")
        self.assertEqual(by_name["basic/02.options"]["reason"], "warning: server does not claim Class 2 compliance")
        tests, _ = suite.parse_group("locks", group_output("locks"))
        self.assertEqual(tests[-1]["reason"], "locking tests skipped, server does not claim Class 2 compliance")

    def test_an_interrupted_group_fails_its_last_test_and_has_no_summary(self):
        text = group_output("basic")
        cut = text[: text.index("put_no_parent") + 30]
        tests, summary = suite.parse_group("basic", cut)
        self.assertIsNone(summary)
        self.assertEqual(tests[-1]["name"], "basic/05.put_no_parent")
        self.assertEqual(tests[-1]["outcome"], "failed")


class CommandLine(unittest.TestCase):
    def test_a_password_beginning_with_a_dash_stays_a_password(self):
        # litmus's programs parse options with getopt; a generated password like "-pw…" was
        # taken for an option, and the group printed its usage instead of running.
        import tempfile
        import time

        with tempfile.TemporaryDirectory() as tmp:
            fake = Path(tmp) / "litmus"
            fake.write_text('#!/bin/sh\nprintf "ARGS:"; printf " %s" "$@"; echo\n')
            fake.chmod(0o755)
            text, stopped = suite.run_group(str(fake), "basic", "http://127.0.0.1:1/", "u", "-pw",
                                            Path(tmp) / "work", time.monotonic() + 30)
        self.assertEqual(stopped, "")
        self.assertIn("ARGS: -- http://127.0.0.1:1/ u -pw", text)


if __name__ == "__main__":
    unittest.main()
