"""make api-check's verdict on a schemathesis run: only a clean run with every
phase passed counts (its summaries as schemathesis 4.32 prints them)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import api_check  # noqa: E402

CLEAN = """
Test Phases:
  ⏭  Examples
  ✅ Coverage
  ✅ Fuzzing
  ✅ Stateful

Warnings:
  ⚠️ Missing test data: 2 operations repeatedly returned 404 responses

Test cases:
  13936 generated, 13936 passed, 56 skipped
"""

FAILED = """
Test Phases:
  ⏭  Examples
  ❌ Coverage
  ✅ Fuzzing
  ❌ Stateful

Failures:
  ❌ ST302 Created resource not found: 1
  ❌ ST202 Schema-valid request rejected: 11

Test cases:
  13575 generated, 12 found 12 unique failures, 56 skipped
"""


class Verdict(unittest.TestCase):
    def test_a_clean_run_passes(self):
        self.assertEqual(api_check.verdict(CLEAN, 0), [])

    def test_failures_and_failed_phases_are_named(self):
        problems = api_check.verdict(FAILED, 1)
        self.assertIn("schemathesis exited with 1", problems)
        self.assertTrue(any("ST202 Schema-valid request rejected: 11" in p for p in problems), problems)
        self.assertIn("the coverage phase did not pass", problems)
        self.assertIn("the stateful phase did not pass", problems)
        self.assertIn("no summary of generated cases", problems)

    def test_a_skipped_phase_is_not_a_pass(self):
        skipped = CLEAN.replace("✅ Stateful", "⏭  Stateful")
        self.assertEqual(api_check.verdict(skipped, 0), ["the stateful phase did not pass"])


if __name__ == "__main__":
    unittest.main()
