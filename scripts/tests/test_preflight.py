"""make preflight-<env>: on the emulator where moto answers (API Gateway's
account, OpenSearch Serverless collections, SES receipt rule sets and
identities), and on recorded answers where it does not (Lambda's account
settings, Cost Explorer's monitors, Bedrock's model availability and use-case
form, the SES account, OpenSearch Serverless's capacity limits). The recorded
answers go through botocore's Stubber, which checks each one against the
service's API model. Run by `make test` inside the emulator
(JARVIS_TEST_AWS_ENDPOINT); run alone it starts its own."""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import boto3
from botocore.stub import Stubber

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, ".."))
import preflight  # noqa: E402
from test_rollback import endpoint  # noqa: E402

REGION = "eu-west-1"
# One attempt: the emulator answers 500 to what it does not implement.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
               "AWS_MAX_ATTEMPTS": "1"}


def env_dir(settings: str = "", backend: bool = True, region: str = REGION) -> str:
    """A throwaway env folder: terraform.tfvars with these settings, and a backend.hcl."""
    d = tempfile.mkdtemp(prefix="preflight-")
    with open(os.path.join(d, "terraform.tfvars"), "w") as f:
        f.write(f'env    = "pf"\nregion = "{region}"\n\nsettings = {{\n{settings}\n}}\n')
    if backend:
        with open(os.path.join(d, "backend.hcl"), "w") as f:
            f.write(f'bucket = "state"\nkey    = "jarvis/pf/{region}/terraform.tfstate"\n')
    return d


def stubbed(service: str, region: str = REGION):
    client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.activate()
    return client, stub


def report_of(check, env, aws):
    out = io.StringIO()
    report = preflight.Report(out)
    check(env, aws, report)
    return report, out.getvalue()


class OnTheEmulator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url, cls.proc = endpoint()
        cls.env = dict(os.environ, AWS_ENDPOINT_URL=cls.url, **CREDENTIALS)

    @classmethod
    def tearDownClass(cls):
        if cls.proc:
            cls.proc.stdin.close()
            cls.proc.wait()

    def client(self, service):
        return boto3.client(service, region_name=REGION, endpoint_url=self.url,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def preflight(self, *args):
        return subprocess.run([sys.executable, os.path.join(REPO, "scripts", "preflight.py"), *args],
                              env=self.env, capture_output=True, text=True, timeout=300)

    def test_make_preflight_dev_asks_the_account_and_says_what_it_could_not_check(self):
        done = subprocess.run(["make", "-s", "preflight-dev"], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=300)
        out = done.stdout
        self.assertEqual(done.returncode, 0, out + done.stderr)
        self.assertIn("preflight: dev in eu-west-1", out)
        self.assertIn("ok   API Gateway: account logging role set by this stack", out)
        self.assertIn("ok   OpenSearch Serverless:", out)
        self.assertIn("ok   SES: mail is off", out)
        # moto has no Lambda account settings, Cost Explorer monitors or Bedrock
        # model availability: each is a visible warning, never a silent ok.
        for unanswered in ("the Lambda concurrency quota", "the cost anomaly monitors",
                           "Bedrock access to amazon.titan-embed-text-v2:0"):
            self.assertIn(f"warn could not check {unanswered}", out)
        self.assertRegex(out, r"preflight: 0 gap\(s\), \d+ warning\(s\)")

    def test_another_stacks_api_gateway_logging_role_is_a_gap(self):
        iam = self.client("iam")
        role = iam.create_role(RoleName="other-stack-apigw-logs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        gw = self.client("apigateway")
        gw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
        try:
            done = self.preflight(env_dir())
            self.assertEqual(done.returncode, 1, done.stdout)
            self.assertIn("GAP  API Gateway: another stack set the account's CloudWatch Logs role", done.stdout)
            self.assertIn("manage_api_gateway_account = false", done.stdout)
            done = self.preflight(env_dir("  manage_api_gateway_account = false"))
            self.assertNotIn("GAP  API Gateway", done.stdout)
        finally:
            gw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])

    def test_activating_the_rule_set_over_another_active_one_is_a_gap(self):
        ses = self.client("ses")
        ses.create_receipt_rule_set(RuleSetName="other-app")
        ses.set_active_receipt_rule_set(RuleSetName="other-app")
        try:
            mail = '  ses_inbound = true\n  mail_domain = "mail.example.com"\n'
            done = self.preflight(env_dir(mail + "  ses_activate_rule_set = true"))
            self.assertEqual(done.returncode, 1, done.stdout)
            self.assertIn("GAP  SES: other-app is the region's active receipt rule set", done.stdout)
            done = self.preflight(env_dir(mail))
            self.assertIn("note SES: Jarvis's rule set jarvis-pf-inbound will not be active (other-app is)",
                          done.stdout)
            self.assertIn("note SES: mail.example.com is not an identity yet", done.stdout)
            self.assertNotIn("GAP  SES", done.stdout)
        finally:
            ses.set_active_receipt_rule_set()

    def test_a_state_key_without_the_region_is_a_warning(self):
        d = env_dir()
        with open(os.path.join(d, "backend.hcl"), "w") as f:
            f.write('bucket = "state"\nkey    = "jarvis/pf/terraform.tfstate"\n')
        done = self.preflight(d)
        self.assertIn("warn Terraform state: the key 'jarvis/pf/terraform.tfstate' does not name the region",
                      done.stdout)
        shutil.rmtree(d)


class OnRecordedAnswers(unittest.TestCase):
    """Answers shaped as the API references give them (Stubber validates each)."""

    def test_reserving_more_than_the_pool_leaves_is_a_gap_with_the_quota_to_ask_for(self):
        reserved = preflight.reserved_executions()
        for total, reserve, expect in [(10, "true", "GAP"), (1000, "true", "ok"),
                                       (10, "false", "note"), (1000, "false", "ok")]:
            client, stub = stubbed("lambda")
            stub.add_response("get_account_settings", {"AccountLimit": {
                "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": total, "UnreservedConcurrentExecutions": total}})
            env = preflight.Env(env_dir(f"  reserve_concurrency = {reserve}"))
            report, out = report_of(preflight.check_concurrency, env, lambda *_: client)
            self.assertTrue(out.startswith(expect), out)
            if expect == "GAP":
                self.assertIn(f"to at least {reserved + preflight.UNRESERVED_FLOOR}", out)
            stub.assert_no_pending_responses()

    def test_model_access_names_what_is_missing_and_the_use_case_form(self):
        client, stub = stubbed("bedrock")
        stub.add_response("get_foundation_model_availability", {
            "modelId": "amazon.titan-embed-text-v2:0", "agreementAvailability": {"status": "AVAILABLE"},
            "authorizationStatus": "AUTHORIZED", "entitlementAvailability": "AVAILABLE",
            "regionAvailability": "AVAILABLE"}, {"modelId": "amazon.titan-embed-text-v2:0"})
        stub.add_response("get_foundation_model_availability", {
            "modelId": "anthropic.claude-haiku-4-5-20251001-v1:0",
            "agreementAvailability": {"status": "NOT_AVAILABLE"},
            "authorizationStatus": "AUTHORIZED", "entitlementAvailability": "NOT_AVAILABLE",
            "regionAvailability": "AVAILABLE"}, {"modelId": "anthropic.claude-haiku-4-5-20251001-v1:0"})
        stub.add_client_error("get_use_case_for_model_access", "ResourceNotFoundException",
                              "Use case details not found", 404)
        env = preflight.Env(env_dir())
        report, out = report_of(preflight.check_models, env, lambda *_: client)
        self.assertIn("ok   Bedrock: amazon.titan-embed-text-v2:0 is available", out)
        self.assertIn("warn Bedrock: eu.anthropic.claude-haiku-4-5-20251001-v1:0: the account has no "
                      "entitlement yet (its Marketplace subscription is missing); its agreement is not accepted",
                      out)
        self.assertIn("use-case form is not submitted", out)
        self.assertEqual((report.gaps, report.warnings), (0, 2))
        stub.assert_no_pending_responses()

    def test_the_chat_model_follows_the_regions_geography_as_the_stack_does(self):
        for region, profile in [("us-east-1", "us."), ("eu-central-1", "eu."), ("ap-south-1", "global.")]:
            self.assertTrue(preflight.Env(env_dir(region=region)).chat_model_id().startswith(profile))
        self.assertEqual(preflight.Env(env_dir('  chat_model_id = "x.y"')).chat_model_id(), "x.y")

    def test_an_existing_services_monitor_must_be_named_not_created(self):
        monitor = {"MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/0f1e", "MonitorName":
                   "Default-Services-Monitor", "MonitorType": "DIMENSIONAL", "MonitorDimension": "SERVICE"}
        cases = [('  cost_anomaly_detection = true', "GAP", 'cost_anomaly_monitor_arn = "arn:aws:ce::'),
                 ("", "note", "alerts are off"),
                 ('  cost_anomaly_detection = true\n  cost_anomaly_monitor_arn = '
                  '"arn:aws:ce::123456789012:anomalymonitor/0f1e"', "ok", "the monitor to subscribe to exists")]
        for settings, kind, says in cases:
            client, stub = stubbed("ce", preflight.CE_REGION)
            stub.add_response("get_anomaly_monitors", {"AnomalyMonitors": [monitor]})
            report, out = report_of(preflight.check_cost_monitor, preflight.Env(env_dir(settings)),
                                    lambda *_: client)
            self.assertTrue(out.startswith(kind) and says in out, out)

    def test_the_ses_sandbox_and_an_unverified_domain_are_warnings(self):
        client, stub = stubbed("sesv2")
        stub.add_response("get_account", {"ProductionAccessEnabled": False, "SendingEnabled": True,
                                          "DedicatedIpAutoWarmupEnabled": False, "EnforcementStatus": "HEALTHY"})
        stub.add_response("get_email_identity", {"IdentityType": "DOMAIN", "VerifiedForSendingStatus": False},
                          {"EmailIdentity": "mail.example.com"})
        env = preflight.Env(env_dir('  ses_sending = true\n  mail_domain = "mail.example.com"'))
        report, out = report_of(preflight.check_mail, env, lambda *_: client)
        self.assertIn("warn SES: the account is in the sandbox", out)
        self.assertIn("warn SES: mail.example.com is not verified yet", out)
        self.assertEqual(report.gaps, 0)

    def test_search_quota_and_the_shared_capacity_limits(self):
        # The API's minimum for a capacity limit is 2 OCUs, which one collection
        # always fits; what is left depends on the account's other collections.
        client, stub = stubbed("opensearchserverless")
        summaries = [{"name": f"col{i:02d}", "id": f"id{i}", "arn": f"arn:aws:aoss:eu-west-1:1:collection/id{i}",
                      "status": "ACTIVE"} for i in range(preflight.COLLECTIONS_PER_REGION)]
        stub.add_response("list_collections", {"collectionSummaries": summaries})
        stub.add_response("get_account_settings", {"accountSettingsDetail": {"capacityLimits": {
            "maxIndexingCapacityInOCU": 4, "maxSearchCapacityInOCU": 4}}})
        env = preflight.Env(env_dir("  search_standby_replicas = true"))
        report, out = report_of(preflight.check_search, env, lambda *_: client)
        self.assertIn("GAP  OpenSearch Serverless: 50 collections, the region's quota is 50", out)
        self.assertIn("capacity limits are 4 indexing / 4 search OCUs, shared by every collection; "
                      "this one takes at least 2 / 2", out)

    def test_access_denied_on_a_check_is_reported_not_hidden(self):
        client, stub = stubbed("lambda")
        stub.add_client_error("get_account_settings", "AccessDeniedException", "not authorized", 403)
        report, out = report_of(preflight.check_concurrency, preflight.Env(env_dir()), lambda *_: client)
        self.assertIn("warn could not check the Lambda concurrency quota: AccessDeniedException (403)", out)
        self.assertEqual(report.warnings, 1)

    def test_tfvars_are_read_as_terraform_reads_them(self):
        d = env_dir('  timezone = "Europe/Berlin" # a comment\n  mailboxes = {\n    "a@b.c" = "t"\n  }\n'
                    '  reserve_concurrency = true\n  api_throttle_rate = 20\n  cors_origins = []')
        env = preflight.Env(d)
        self.assertEqual(env.region, REGION)
        self.assertEqual(env.settings["timezone"], "Europe/Berlin")
        self.assertIs(env.setting("reserve_concurrency"), True)
        self.assertEqual(env.settings["api_throttle_rate"], 20)
        self.assertNotIn("a@b.c", env.settings)
        self.assertIs(env.setting("cost_anomaly_detection"), False, "root.tf's default")
        self.assertEqual(env.global_prefix, "jarvis-pf-eu-west-1")


if __name__ == "__main__":
    unittest.main()
