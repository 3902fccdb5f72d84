"""scripts/docs_check.py: the link check `make test` runs on README.md and docs/."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import docs_check  # noqa: E402


class DocsCheck(unittest.TestCase):
    def test_anchors_are_made_the_way_github_makes_them(self):
        self.assertEqual(docs_check.slug("What it costs, and the alerts"), "what-it-costs-and-the-alerts")
        self.assertEqual(docs_check.slug("Search quality: `make eval`"), "search-quality-make-eval")
        self.assertEqual(docs_check.slug("Deploying to AWS (Terraform)"), "deploying-to-aws-terraform")

    def test_broken_files_and_anchors_are_reported_and_good_ones_are_not(self):
        with tempfile.TemporaryDirectory() as root:
            os.mkdir(os.path.join(root, "docs"))
            with open(os.path.join(root, "README.md"), "w") as f:
                f.write("# Top\n\n[ok](docs/a.md#second-part) [gone](docs/b.md) [bad](docs/a.md#nowhere)\n"
                        "[site](https://example.com/x.md) [here](#top)\n\n```\n[in code](missing.md)\n```\n")
            with open(os.path.join(root, "docs", "a.md"), "w") as f:
                f.write("# A\n\n## Second part\n\n[back](../README.md#top) <img src=\"pic.png\">\n")
            problems = docs_check.check(root, docs_check.pages(root))
            self.assertEqual(len(problems), 3, problems)
            self.assertTrue(any("docs/b.md: no such file" in p for p in problems))
            self.assertTrue(any("#nowhere" in p for p in problems))
            self.assertTrue(any("pic.png: no such file" in p for p in problems))


if __name__ == "__main__":
    unittest.main()
