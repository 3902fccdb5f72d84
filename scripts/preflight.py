#!/usr/bin/env python3
"""Ask the AWS account what the first apply of an environment needs, before
anything is planned, and print each gap with its fix. Read-only: it only
calls Get/List/Describe operations.

    preflight.py ENV_DIR        check the account for terraform/envs/<env>
    preflight.py --reserved     the executions the catalog reserves (tests)

`make plan-<env>` runs it first. Each line is `ok`, `note` (worth knowing,
nothing fails), `warn` (the apply works, something breaks at run time, e.g.
the first chat call) or `GAP` (the apply fails or does harm as configured);
a check the account would not answer says so and counts as a warning.
Exit status 1 when there is a GAP.

It checks:
- the Lambda concurrency quota against what the env reserves (Lambda keeps
  100 executions unreserved);
- Bedrock access to the embedding and chat models: the model's availability
  in the account (agreement, authorization, entitlement, region) and, for
  Anthropic models, the one-time use-case form;
- SES: the sandbox, the mail domain's verification, and the region's active
  receipt rule set (there is one per region);
- an existing AWS-services cost anomaly monitor (one per account);
- the API Gateway account's CloudWatch Logs role already set by another stack;
- the OpenSearch Serverless collection quota and the account's OCU limits;
- the state key in backend.hcl naming the region.

Needs AWS credentials (boto3) allowed the read operations above; AWS_ENDPOINT_URL
points it at an emulator."""

import argparse
import json
import os
import re
import sys

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CATALOG = os.path.join(REPO, "terraform", "modules", "functions", "catalog.tf")
STACK_VARIABLES = os.path.join(REPO, "terraform", "stack", "variables.tf")
ROOT = os.path.join(REPO, "terraform", "envs", "root.tf")

# Lambda: "Lambda reserves 100 units of concurrency for functions that don't
# have reserved concurrency" — a reservation may not take the unreserved pool
# below 100.
UNRESERVED_FLOOR = 100
# OpenSearch Serverless: collections per account and region (Service Quotas
# default), and the OCUs one collection with or without standby replicas
# needs at least (indexing, search).
COLLECTIONS_PER_REGION = 50
MIN_OCUS = {True: (2, 2), False: (1, 1)}
# Where Cost Explorer answers (a global service).
CE_REGION = "us-east-1"


def reserved_executions(catalog_path: str = CATALOG) -> int:
    """The executions the catalog reserves when reserve_concurrency is on."""
    with open(catalog_path, encoding="utf-8") as f:
        text = f.read()
    return sum(int(n) for n in re.findall(r"^\s*reserved\s*=\s*(\d+)", text, re.M))


def _scalar(text: str):
    text = text.split("#", 1)[0].strip()
    if text.startswith('"'):
        return json.loads(text[: text.index('"', 1) + 1])
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text) if "." in text else int(text)
    return None  # lists, maps: not needed here


def read_tfvars(path: str) -> dict:
    """`env`, `region` and the scalar `settings` of a terraform.tfvars."""
    values, settings, depth, in_settings = {}, {}, 0, False
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if depth == 0 and stripped.startswith("settings") and stripped.endswith("{"):
            in_settings, depth = True, 1
            continue
        if in_settings:
            if depth == 1 and "=" in stripped and not stripped.startswith("}"):
                key, value = stripped.split("=", 1)
                if value.strip().startswith(("{", "[")) and not value.strip().endswith(("}", "]")):
                    depth += 1
                else:
                    settings[key.strip()] = _scalar(value)
                continue
            depth += stripped.count("{") + stripped.count("[") - stripped.count("}") - stripped.count("]")
            if depth <= 0:
                in_settings, depth = False, 0
            continue
        if "=" in stripped:
            key, value = stripped.split("=", 1)
            values[key.strip()] = _scalar(value)
    values["settings"] = settings
    return values


def root_default(setting: str):
    """The default envs/root.tf gives a setting."""
    with open(ROOT, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'lookup\(var\.settings, "%s", ([^)]*)\)' % re.escape(setting), text)
    return _scalar(m.group(1)) if m else None


def stack_default(variable: str):
    with open(STACK_VARIABLES, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'variable "%s" \{.*?default\s*=\s*([^\n]*)' % re.escape(variable), text, re.S)
    return _scalar(m.group(1)) if m else None


class Env:
    """What the env deploys, as the Terraform will read it."""

    def __init__(self, env_dir: str):
        self.dir = env_dir
        tfvars = read_tfvars(os.path.join(env_dir, "terraform.tfvars"))
        self.name = tfvars.get("env") or os.path.basename(os.path.normpath(env_dir))
        self.region = tfvars.get("region")
        self.settings = tfvars["settings"]

    def setting(self, key: str):
        if key in self.settings and self.settings[key] is not None:
            return self.settings[key]
        return root_default(key)

    @property
    def prefix(self) -> str:
        return f"jarvis-{self.name}"

    @property
    def global_prefix(self) -> str:
        return f"{self.prefix}-{self.region}" if self.setting("region_in_global_names") else self.prefix

    def chat_model_id(self) -> str:
        """The stack's rule: an empty chat_model_id is the default model through
        the region's geography profile."""
        if self.setting("chat_model_id"):
            return self.setting("chat_model_id")
        r = self.region or ""
        geo = "us" if r.startswith(("us-", "ca-")) else "eu" if r.startswith("eu-") else "global"
        return f"{geo}.{stack_default('default_chat_model')}"

    def embed_model_id(self) -> str:
        return stack_default("embed_model_id")


class Report:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.gaps = 0
        self.warnings = 0

    def line(self, kind: str, what: str, fix: str = ""):
        self.gaps += kind == "GAP"
        self.warnings += kind == "warn"
        print(f"{kind:<4} {what}" + (f"\n       → {fix}" if fix else ""), file=self.out)

    def ok(self, what):
        self.line("ok", what)

    def note(self, what, fix=""):
        self.line("note", what, fix)

    def warn(self, what, fix=""):
        self.line("warn", what, fix)

    def gap(self, what, fix):
        self.line("GAP", what, fix)

    def unanswered(self, what: str, err: Exception):
        self.warn(f"could not check {what}: {describe(err)}",
                  "allow the read call to these credentials, or check it by hand")


def describe(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    error = response.get("Error", {})
    code = error.get("Code") or type(err).__name__
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = (error.get("Message") or str(err)).strip().splitlines()[0][:160]
    if status in (404, 500, 501) and "<" in message:
        message = "the endpoint does not implement this call"
    shown = code if str(code) == str(status) or not status else f"{code} ({status})"
    return f"{shown}: {message}"


def check_concurrency(env: Env, aws, report: Report):
    reserved = reserved_executions()
    try:
        limits = aws("lambda").get_account_settings()["AccountLimit"]
    except Exception as err:  # noqa: BLE001 — every failure is reported
        return report.unanswered("the Lambda concurrency quota", err)
    total = limits["ConcurrentExecutions"]
    unreserved = limits["UnreservedConcurrentExecutions"]
    if env.setting("reserve_concurrency"):
        if unreserved - reserved < UNRESERVED_FLOOR:
            report.gap(
                f"Lambda: reserve_concurrency reserves {reserved} executions, but {unreserved} of the "
                f"account's {total} are unreserved and Lambda keeps {UNRESERVED_FLOOR} unreserved",
                f"raise \"Concurrent executions\" in Service Quotas (Lambda) to at least "
                f"{total - unreserved + reserved + UNRESERVED_FLOOR}, or set reserve_concurrency = false",
            )
        else:
            report.ok(f"Lambda: {reserved} executions to reserve, {unreserved} of {total} unreserved")
    elif total < reserved + UNRESERVED_FLOOR:
        report.note(
            f"Lambda: the account runs at most {total} executions at once (reserve_concurrency is off)",
            f"for bulk uploads, request at least {reserved + UNRESERVED_FLOOR} (Service Quotas, "
            "\"Concurrent executions\"), then reserve_concurrency = true",
        )
    else:
        report.ok(f"Lambda: {total} concurrent executions (reserve_concurrency is off)")


def model_access(model_id: str, availability: dict):
    """(ok, what is missing) from GetFoundationModelAvailability's answer."""
    missing = []
    if availability.get("regionAvailability") == "NOT_AVAILABLE":
        missing.append("the model is not offered in this region")
    if availability.get("authorizationStatus") == "NOT_AUTHORIZED":
        missing.append("these credentials are not authorized for it (IAM or an SCP denies it)")
    if availability.get("entitlementAvailability") == "NOT_AVAILABLE":
        missing.append("the account has no entitlement yet (its Marketplace subscription is missing)")
    agreement = availability.get("agreementAvailability", {})
    if agreement.get("status") in ("NOT_AVAILABLE", "ERROR"):
        missing.append("its agreement is not accepted"
                       + (f" ({agreement['errorMessage']})" if agreement.get("errorMessage") else ""))
    elif agreement.get("status") == "PENDING":
        missing.append("its agreement is still pending (a few minutes)")
    return not missing, missing


def base_model(model_id: str) -> str:
    """`eu.anthropic.x` → `anthropic.x` (an inference profile's model)."""
    head, _, rest = model_id.partition(".")
    return rest if head in ("us", "eu", "apac", "jp", "au", "ca", "global", "us-gov") else model_id


def check_models(env: Env, aws, report: Report):
    bedrock = aws("bedrock")
    for model_id in (env.embed_model_id(), env.chat_model_id()):
        model = base_model(model_id)
        try:
            availability = bedrock.get_foundation_model_availability(modelId=model)
        except Exception as err:  # noqa: BLE001
            availability = None
            report.unanswered(f"Bedrock access to {model}", err)
        ok, missing = model_access(model, availability or {})
        if availability is None:
            pass
        elif ok:
            report.ok(f"Bedrock: {model_id} is available to this account")
        else:
            report.warn(
                f"Bedrock: {model_id}: " + "; ".join(missing),
                "the chat and embedding calls will answer AccessDeniedException until this is done: "
                "open the model in the Bedrock console's model catalog and run it once in the "
                "playground (that starts its Marketplace subscription), with a payment method on "
                "the account",
            )
        if model.startswith("anthropic."):
            try:
                bedrock.get_use_case_for_model_access()
                report.ok("Bedrock: the Anthropic use-case form is submitted")
            except Exception as err:  # noqa: BLE001
                code = getattr(err, "response", {}).get("Error", {}).get("Code")
                if code == "ResourceNotFoundException":
                    report.warn(
                        "Bedrock: Anthropic's one-time use-case form is not submitted for this account",
                        "open any Claude model in the Bedrock console's model catalog and submit the "
                        "use-case details it asks for (once per account, or once in the organization's "
                        "management account)",
                    )
                else:
                    report.unanswered("Anthropic's use-case form", err)


def check_mail(env: Env, aws, report: Report):
    sending, receiving = env.setting("ses_sending"), env.setting("ses_inbound")
    if not (sending or receiving):
        return report.ok("SES: mail is off (ses_sending and ses_inbound)")
    domain = env.setting("mail_domain")
    if not domain:
        report.gap("SES: mail is on but mail_domain is empty", "set mail_domain to a domain you control")
    sesv2 = aws("sesv2")
    if sending:
        try:
            account = sesv2.get_account()
            if not account.get("ProductionAccessEnabled"):
                report.warn(
                    "SES: the account is in the sandbox: mail goes only to verified addresses, 200 a day",
                    "request production access (SES console → Account dashboard → Request production access)",
                )
            else:
                report.ok("SES: production access")
        except Exception as err:  # noqa: BLE001
            report.unanswered("the SES sandbox", err)
    if domain:
        try:
            identity = sesv2.get_email_identity(EmailIdentity=domain)
            if identity.get("VerifiedForSendingStatus"):
                report.ok(f"SES: {domain} is verified")
            else:
                report.warn(f"SES: {domain} is not verified yet",
                            "add the DKIM records make outputs-<env> lists under mail_dns_records")
        except Exception as err:  # noqa: BLE001
            if getattr(err, "response", {}).get("Error", {}).get("Code") == "NotFoundException":
                report.note(f"SES: {domain} is not an identity yet; the apply creates it",
                            "then add the DKIM records make outputs-<env> lists under mail_dns_records")
            else:
                report.unanswered(f"the SES identity {domain}", err)
    if receiving:
        ours = f"{env.prefix}-inbound"
        try:
            active = aws("ses").describe_active_receipt_rule_set().get("Metadata", {}).get("Name")
        except Exception as err:  # noqa: BLE001
            return report.unanswered("the active receipt rule set", err)
        activate = env.setting("ses_activate_rule_set")
        if active and active != ours and activate:
            report.gap(
                f"SES: {active} is the region's active receipt rule set; ses_activate_rule_set = true "
                "would deactivate it (a region has one active set) and stop the mail it receives",
                f"set ses_activate_rule_set = false and add Jarvis's rules to {active}, or move "
                f"{active}'s rules first",
            )
        elif not activate and active != ours:
            report.note(
                f"SES: Jarvis's rule set {ours} will not be active"
                + (f" ({active} is)" if active else " (no set is active)"),
                "set ses_activate_rule_set = true if nothing else receives mail in this region",
            )
        else:
            report.ok(f"SES: receipt rule set {ours}")


def check_cost_monitor(env: Env, aws, report: Report):
    try:
        monitors = aws("ce", CE_REGION).get_anomaly_monitors().get("AnomalyMonitors", [])
    except Exception as err:  # noqa: BLE001
        return report.unanswered("the cost anomaly monitors", err)
    services = [m for m in monitors
                if m.get("MonitorType") == "DIMENSIONAL" and m.get("MonitorDimension") == "SERVICE"]
    wanted, given = env.setting("cost_anomaly_detection"), env.setting("cost_anomaly_monitor_arn")
    if services and wanted and not given:
        report.gap(
            f"Cost anomaly: the account already has its AWS-services monitor {services[0].get('MonitorName')} "
            "(one per account); creating another fails the apply",
            f"set cost_anomaly_monitor_arn = \"{services[0]['MonitorArn']}\"",
        )
    elif services and not wanted:
        report.note(
            f"Cost anomaly: alerts are off; the account's monitor is {services[0]['MonitorArn']}",
            "to be alerted: cost_anomaly_detection = true with that cost_anomaly_monitor_arn",
        )
    elif given and not any(m["MonitorArn"] == given for m in monitors):
        report.gap(f"Cost anomaly: no monitor {given} in this account",
                   "set cost_anomaly_monitor_arn to one GetAnomalyMonitors lists, or empty it")
    else:
        report.ok("Cost anomaly: " + ("the monitor to subscribe to exists" if given
                                      else "no AWS-services monitor yet" if wanted else "alerts are off"))


def check_api_gateway_role(env: Env, aws, report: Report):
    try:
        role = aws("apigateway").get_account().get("cloudwatchRoleArn")
    except Exception as err:  # noqa: BLE001
        return report.unanswered("API Gateway's account logging role", err)
    ours = f"{env.global_prefix}-apigateway-logs"
    manage = env.setting("manage_api_gateway_account")
    if role and not role.endswith(f"/{ours}") and manage:
        report.gap(
            f"API Gateway: another stack set the account's CloudWatch Logs role ({role}); "
            "manage_api_gateway_account = true would replace it",
            "set manage_api_gateway_account = false (the role already there serves Jarvis's stages)",
        )
    elif not role and not manage:
        report.gap("API Gateway: no account CloudWatch Logs role is set, and manage_api_gateway_account = false",
                   "set manage_api_gateway_account = true: the WebSocket stage's access logs need the role")
    else:
        report.ok("API Gateway: account logging role " + ("set by this stack" if manage else role))


def check_search(env: Env, aws, report: Report):
    aoss = aws("opensearchserverless")
    ours = f"{env.prefix}-search"  # terraform/modules/search: local.collection
    try:
        names = [c["name"] for c in aoss.list_collections().get("collectionSummaries", [])]
    except Exception as err:  # noqa: BLE001
        return report.unanswered("the OpenSearch Serverless collections", err)
    others = [n for n in names if n != ours]
    if len(others) >= COLLECTIONS_PER_REGION:
        report.gap(f"OpenSearch Serverless: {len(others)} collections, the region's quota is {COLLECTIONS_PER_REGION}",
                   "delete one or request more (Service Quotas, OpenSearch Serverless)")
    else:
        report.ok(f"OpenSearch Serverless: {len(names)} collection(s) of {COLLECTIONS_PER_REGION}")
    try:
        limits = aoss.get_account_settings().get("accountSettingsDetail", {}).get("capacityLimits", {})
    except Exception as err:  # noqa: BLE001
        return report.unanswered("the OpenSearch Serverless capacity limits", err)
    need = MIN_OCUS[bool(env.setting("search_standby_replicas"))]
    have = (limits.get("maxIndexingCapacityInOCU"), limits.get("maxSearchCapacityInOCU"))
    report.note(
        f"OpenSearch Serverless: the account's capacity limits are {have[0]} indexing / {have[1]} search "
        f"OCUs, shared by every collection; this one takes at least {need[0]} / {need[1]}",
        "if other collections already use the limits, raise them (OpenSearch Service console → "
        "Serverless → Dashboard → Capacity management)",
    )


def check_state_key(env: Env, report: Report):
    backend = os.path.join(env.dir, "backend.hcl")
    if not os.path.exists(backend):
        return report.warn(f"{backend} is missing (make init-{env.name} stops there)",
                           f"copy {backend}.example to backend.hcl and name the state bucket")
    with open(backend, encoding="utf-8") as f:
        key = next((_scalar(line.split("=", 1)[1]) for line in f if line.strip().startswith("key")), "")
    if env.region and env.region not in (key or ""):
        report.warn(f"Terraform state: the key {key!r} does not name the region {env.region}",
                    f"one state per env and region: key = \"jarvis/{env.name}/{env.region}/terraform.tfstate\" "
                    "(an existing state moves with terraform init -migrate-state)")
    else:
        report.ok(f"Terraform state: {key}")


def run(env: Env, aws, report: Report) -> Report:
    print(f"preflight: {env.name} in {env.region} (read-only)", file=report.out)
    check_state_key(env, report)
    for check in (check_concurrency, check_models, check_mail, check_cost_monitor,
                  check_api_gateway_role, check_search):
        check(env, aws, report)
    print(f"preflight: {report.gaps} gap(s), {report.warnings} warning(s)", file=report.out)
    return report


def clients(region: str):
    import boto3
    from botocore.config import Config

    # Attempts: AWS_MAX_ATTEMPTS, else the standard mode's 3.
    config = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=20)
    cache = {}

    def aws(service: str, where: str = None):
        key = (service, where or region)
        if key not in cache:
            cache[key] = boto3.client(service, region_name=where or region, config=config)
        return cache[key]

    return aws


def main() -> int:
    args = argparse.ArgumentParser(description="Read-only check of an AWS account before the first apply.")
    args.add_argument("env_dir", nargs="?")
    args.add_argument("--reserved", action="store_true", help="print the executions the catalog reserves")
    a = args.parse_args()
    if a.reserved:
        print(reserved_executions())
        return 0
    if not a.env_dir:
        args.error("name the env folder, e.g. terraform/envs/dev")
    env = Env(a.env_dir)
    report = run(env, clients(env.region), Report())
    return 1 if report.gaps else 0


if __name__ == "__main__":
    sys.exit(main())
