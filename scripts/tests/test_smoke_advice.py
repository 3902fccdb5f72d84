"""make smoke-<env> turns the chat model's AccessDenied into what to do: the
api-chat function logs Bedrock's answer, the smoke test reads that log (on the
emulator's CloudWatch Logs here) when POST /chat fails. The messages are
Bedrock's AccessDeniedException texts for an account that cannot use a
third-party model yet."""

import os
import sys
import time
import unittest
import uuid

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import smoke  # noqa: E402
from test_rollback import endpoint  # noqa: E402

REGION = "eu-west-1"
LOGGED = ('{"level":"ERROR","fields":{"message":"request failed","error":"bedrock: Converse failed: '
          'AccessDeniedException: %s (HTTP 403)"},"span":{"tenant":"t"}}')
USE_CASE = ("Model use case details have not been submitted for this account. Fill out the Anthropic use "
            "case details form before using the model. If you have already filled out the form, try again "
            "in 15 minutes.")
MARKETPLACE = ("Model access is denied due to IAM user or service role is not authorized to perform the "
               "required AWS Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) "
               "to enable access to this model.")
NO_ACCESS = "You don't have access to the model with the specified model ID."
PAYMENT = ("Model access is denied due to INVALID_PAYMENT_INSTRUMENT:A valid payment instrument must be "
           "provided. Your AWS Marketplace subscription for this model cannot be completed at this time.")


class ModelAccessAdvice(unittest.TestCase):
    def test_each_denial_gets_its_own_fix(self):
        for message, says in [(USE_CASE, "use-case form"), (MARKETPLACE, "aws-marketplace:Subscribe"),
                              (NO_ACCESS, "run it once in the playground"), (PAYMENT, "payment method")]:
            advice = smoke.model_access_advice(LOGGED % message)
            self.assertIn(says, advice, message)
        self.assertIn("make preflight-<env>", smoke.model_access_advice("AccessDeniedException: other"))
        self.assertIsNone(smoke.model_access_advice("ThrottlingException: slow down"))

    def test_the_advice_comes_from_the_chat_functions_log(self):
        url, proc = endpoint()
        try:
            logs = boto3.client("logs", region_name=REGION, endpoint_url=url,
                                aws_access_key_id="test", aws_secret_access_key="test")
            name = f"jarvis-dev-api-chat-{uuid.uuid4().hex[:6]}"
            group = f"/aws/lambda/{name}"
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName="s")
            start = int(time.time() * 1000) - 1000
            out = {"function_names": {"api-chat": name}, "user_pool_id": f"{REGION}_x"}
            self.assertIsNone(smoke.diagnose_chat(out, start, logs), "nothing logged yet")
            logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
                {"timestamp": start + 10, "message": '{"level":"INFO","fields":{"message":"turn"}}'},
                {"timestamp": start + 20, "message": LOGGED % USE_CASE},
            ])
            self.assertIn("use-case form", smoke.diagnose_chat(out, start, logs))
            self.assertIsNone(smoke.diagnose_chat({"user_pool_id": "x"}, start, logs))
        finally:
            if proc:
                proc.stdin.close()
                proc.wait()


if __name__ == "__main__":
    unittest.main()
