"""make rollback-<env> on the emulator (moto's Lambda: functions, published
versions and aliases; no code runs). Run by `make test` inside the emulator
(JARVIS_TEST_AWS_ENDPOINT); run alone it starts its own."""

import io
import json
import os
import subprocess
import sys
import unittest
import uuid
import zipfile
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import prune_versions  # noqa: E402
import rollback  # noqa: E402

REGION = "eu-west-1"


def endpoint():
    if os.environ.get("JARVIS_TEST_AWS_ENDPOINT"):
        return os.environ["JARVIS_TEST_AWS_ENDPOINT"], None
    proc = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "..", "emulator.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    return line.split()[-1], proc


class Rollback(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url, cls.proc = endpoint()
        os.environ.update({
            "AWS_ENDPOINT_URL": cls.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
        })
        import boto3

        cls.iam = boto3.client("iam", region_name=REGION)
        cls.aws = boto3.client("lambda", region_name=REGION)
        cls.role = cls.iam.create_role(
            RoleName=f"rollback-{uuid.uuid4().hex[:8]}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]

    @classmethod
    def tearDownClass(cls):
        if cls.proc:
            cls.proc.stdin.close()
            cls.proc.wait()

    def zip(self, text):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", text)
        return buf.getvalue()

    def deploy(self, name, release, first=False):
        """What one terraform apply does to a function: new code and a
        description naming the release, a published version, the alias on it."""
        description = f"release {release}: a test function"
        if first:
            self.aws.create_function(
                FunctionName=name, Runtime="provided.al2023", Role=self.role,
                Handler="bootstrap", Code={"ZipFile": self.zip(release)},
                Description=description,
            )
        else:
            self.aws.update_function_code(FunctionName=name, ZipFile=self.zip(release))
            self.aws.update_function_configuration(FunctionName=name, Description=description)
        version = self.aws.publish_version(FunctionName=name, Description=description)["Version"]
        if first:
            self.aws.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        else:
            self.aws.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
        return version

    def live(self, name):
        return self.aws.get_alias(FunctionName=name, Name="live")["FunctionVersion"]

    def run_rollback(self, *args):
        out = io.StringIO()
        with redirect_stdout(out):
            status = rollback.main(list(args))
        return status, out.getvalue()

    def test_every_alias_goes_back_to_the_release_before_the_live_one(self):
        tag = uuid.uuid4().hex[:6]
        chat, search, new = f"{tag}-api-chat", f"{tag}-api-search", f"{tag}-api-new"
        v1 = {n: self.deploy(n, "r1", first=True) for n in (chat, search)}
        v2 = {n: self.deploy(n, "r2") for n in (chat, search)}
        # r3 adds a function that r2 did not have.
        v3 = {n: self.deploy(n, "r3") for n in (chat, search)}
        v3[new] = self.deploy(new, "r3", first=True)
        names = ",".join([chat, search, new])

        status, out = self.run_rollback("--functions", names, "--region", REGION, "--dry-run")
        self.assertEqual(status, 0, out)
        self.assertIn("release r2", out)
        self.assertEqual(self.live(chat), v3[chat], "a dry run moves nothing")

        status, out = self.run_rollback("--functions", names, "--region", REGION)
        self.assertEqual(status, 0, out)
        self.assertEqual(self.live(chat), v2[chat])
        self.assertEqual(self.live(search), v2[search])
        self.assertEqual(self.live(new), v3[new])
        self.assertIn(f"{new}: left as it is (has no version of release r2)", out)

        # Again: r1, the release before r2. --to picks any release.
        status, _ = self.run_rollback("--functions", names, "--region", REGION)
        self.assertEqual((status, self.live(chat)), (0, v1[chat]))
        status, _ = self.run_rollback("--functions", names, "--region", REGION, "--to", "r3")
        self.assertEqual((status, self.live(chat), self.live(new)), (0, v3[chat], v3[new]))

        # The first release has nothing before it.
        lone = f"{tag}-lone"
        self.deploy(lone, "r1", first=True)
        status, out = self.run_rollback("--functions", lone, "--region", REGION)
        self.assertEqual(status, 1)
        self.assertIn("Nothing to roll back to", out)

    def test_the_plan_ignores_versions_without_a_release(self):
        target, moves, left = rollback.plan({
            "f": {"live": 4, "versions": {1: None, 2: "a", 3: "a", 4: "b"}},
            "g": {"live": 2, "versions": {1: "a", 2: "b"}},
        })
        self.assertEqual(target, "a")
        self.assertEqual(moves, {"f": (4, 3), "g": (2, 1)})
        self.assertEqual(left, [])

    def test_pruning_keeps_the_newest_releases_and_every_aliased_version(self):
        """Lambda's code storage is 75 GB per region (a quota shared by every
        function version), and every deploy publishes a version of every
        function: deploy-<env> prunes. A version an alias points at cannot be
        deleted (Lambda refuses), and must not be: it is live, or pinned."""
        tag = uuid.uuid4().hex[:6]
        name = f"{tag}-api-chat"
        versions = [self.deploy(name, "r1", first=True)]
        versions += [self.deploy(name, f"r{n}") for n in range(2, 7)]
        # A rollback put the live alias on r2, and an operator pinned r1.
        self.aws.update_alias(FunctionName=name, Name="live", FunctionVersion=versions[1])
        self.aws.create_alias(FunctionName=name, Name="pinned", FunctionVersion=versions[0])

        out = io.StringIO()
        self.assertEqual(prune_versions.prune(self.aws, [name], keep=2, dry_run=True, out=out), 2)
        self.assertEqual(len(self.versions(name)), 6, "a dry run deletes nothing")
        self.assertEqual(prune_versions.prune(self.aws, [name], keep=2, out=out), 2)
        # r5 and r6 are the newest two; r2 is live, r1 pinned; r3 and r4 go.
        self.assertEqual(self.versions(name), [versions[0], versions[1], versions[4], versions[5]])
        self.assertEqual(self.live(name), versions[1])
        self.assertEqual(self.aws.invoke(FunctionName=name, Qualifier="live", InvocationType="DryRun")
                         ["StatusCode"], 204)
        # Again: nothing left to delete.
        self.assertEqual(prune_versions.prune(self.aws, [name], keep=2, out=out), 0)

    def versions(self, name):
        pages = self.aws.get_paginator("list_versions_by_function").paginate(FunctionName=name)
        return [v["Version"] for p in pages for v in p["Versions"] if v["Version"] != "$LATEST"]

    def test_the_prune_plan_counts_releases_not_versions(self):
        versions = {1: "a", 2: "a", 3: None, 4: "b", 5: "c", 6: "c"}
        self.assertEqual(prune_versions.plan(versions, aliased=set(), keep=2), [1, 2, 3])
        self.assertEqual(prune_versions.plan(versions, aliased={2}, keep=2), [1, 3])
        self.assertEqual(prune_versions.plan(versions, aliased=set(), keep=9), [])
        with self.assertRaises(ValueError):
            prune_versions.plan(versions, aliased=set(), keep=0)


if __name__ == "__main__":
    unittest.main()
