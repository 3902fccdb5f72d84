# The whole Jarvis deployment; envs/<env> call this with their settings.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  prefix    = "jarvis-${var.env}"
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  # IAM roles, S3 buckets, CloudFront policies and functions, budgets and cost
  # monitors have one namespace per account (buckets: per AWS), not per region:
  # their names carry the region, so one env in two regions does not collide.
  global_prefix = var.region_in_global_names ? "${local.prefix}-${local.region}" : local.prefix

  # Built from names, so functions and the state machine need not wait for each other.
  state_machine_name = "${local.prefix}-pipeline"
  state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${local.state_machine_name}"
  # Bedrock models (see docs/deploying.md's region/model matrix). Claude models
  # newer than Claude 3 are reached only through cross-region inference
  # profiles: "us." in the US and Canada, "eu." in Europe (the request stays
  # in that geography), "global." elsewhere. An empty chat_model_id picks the
  # default for the region.
  geography     = startswith(local.region, "us-") || startswith(local.region, "ca-") ? "us" : startswith(local.region, "eu-") ? "eu" : "global"
  chat_model_id = var.chat_model_id != "" ? var.chat_model_id : "${local.geography}.${var.default_chat_model}"

  # A model id is a foundation model, or an inference profile ("<geo>.<model>").
  # Invoking through a profile needs the profile itself and the underlying model
  # in every region the profile routes to (and, for global profiles, the
  # region-less model ARN).
  profile_geos = ["us", "eu", "apac", "jp", "au", "ca", "global", "us-gov"]
  model_ids    = distinct([var.embed_model_id, local.chat_model_id])
  # Inference profile id → the model behind it ("eu.anthropic.x" → "anthropic.x").
  profile_models = {
    for id in local.model_ids : id => join(".", slice(split(".", id), 1, length(split(".", id))))
    if contains(local.profile_geos, split(".", id)[0])
  }
  model_arns = distinct(concat(flatten([
    for id in local.model_ids : (
      contains(keys(local.profile_models), id)
      ? concat(
        [
          "arn:${local.partition}:bedrock:${local.region}:${local.account}:inference-profile/${id}",
          "arn:${local.partition}:bedrock:*::foundation-model/${local.profile_models[id]}",
        ],
        startswith(id, "global.") ? ["arn:${local.partition}:bedrock:::foundation-model/${local.profile_models[id]}"] : [],
      )
      : ["arn:${local.partition}:bedrock:${local.region}::foundation-model/${id}"]
    )
  ]), var.extra_model_arns))
  mail_identity_arn = coalesce(
    module.ses.identity_arn,
    "arn:${local.partition}:ses:${local.region}:${local.account}:identity/${var.mail_domain == "" ? "unset.invalid" : var.mail_domain}",
  )
  inbound_mail_prefix = "inbound-mail/"
}

module "keys" {
  source        = "../modules/keys"
  global_prefix = local.global_prefix
  prefix        = local.prefix
}

module "storage" {
  source              = "../modules/storage"
  global_prefix       = local.global_prefix
  prefix              = local.prefix
  account_id          = local.account
  kms_key_arn         = module.keys.key_arn
  force_destroy       = var.force_destroy
  allow_ses_inbound   = var.ses_inbound
  inbound_mail_prefix = local.inbound_mail_prefix
  # Browsers PUT pre-signed uploads from the web app (and any other origin allowed).
  upload_origins = concat([module.site.url], var.cors_origins)
}

module "messaging" {
  source                 = "../modules/messaging"
  prefix                 = local.prefix
  kms_key_arn            = module.keys.key_arn
  raw_bucket             = module.storage.raw_bucket
  router_timeout_seconds = var.router_timeout_seconds
  reminder_subscriptions = var.reminder_subscriptions
  alarm_emails           = var.alarm_emails
}

module "data" {
  source              = "../modules/data"
  prefix              = local.prefix
  kms_key_arn         = module.keys.key_arn
  deletion_protection = var.deletion_protection
}

module "search" {
  source           = "../modules/search"
  prefix           = local.prefix
  kms_key_arn      = module.keys.key_arn
  index_name       = var.opensearch_index
  principal_arns   = module.functions.collection_principals
  standby_replicas = var.search_standby_replicas
}

module "scheduler" {
  source        = "../modules/scheduler"
  global_prefix = local.global_prefix
  prefix        = local.prefix
  account_id    = local.account
  kms_key_arn   = module.keys.key_arn
  # From the catalog's triggers: "reminders" and "nightly".
  target_function_arns  = module.functions.reminder_target_arns
  nightly_function_arns = module.functions.nightly_function_arns
  timezone              = var.timezone
}

module "functions" {
  source                 = "../modules/functions"
  global_prefix          = local.global_prefix
  prefix                 = local.prefix
  artifacts_dir          = var.artifacts_dir
  kms_key_arn            = module.keys.key_arn
  raw_bucket             = module.storage.raw_bucket
  raw_bucket_arn         = module.storage.raw_bucket_arn
  curated_bucket         = module.storage.curated_bucket
  curated_bucket_arn     = module.storage.curated_bucket_arn
  table_name             = module.data.table_name
  table_arn              = module.data.table_arn
  ingest_queue_arn       = module.messaging.ingest_queue_arn
  state_machine_arn      = local.state_machine_arn
  collection_arn         = module.search.collection_arn
  opensearch_endpoint    = module.search.endpoint
  opensearch_index       = var.opensearch_index
  embed_model_id         = var.embed_model_id
  embed_dimensions       = var.embed_dimensions
  chat_model_id          = local.chat_model_id
  time_zone              = var.timezone
  mail_from              = var.mail_domain == "" ? "jarvis@unset.invalid" : "jarvis@${var.mail_domain}"
  model_arns             = local.model_arns
  reminder_topic_arn     = module.messaging.reminder_topic_arn
  schedule_group         = module.scheduler.group_name
  scheduler_role_arn     = module.scheduler.role_arn
  reminder_dlq_arn       = module.scheduler.dlq_arn
  mail_identity_arn      = local.mail_identity_arn
  owner_tenant           = var.owner_tenant
  router_timeout_seconds = var.router_timeout_seconds
  pii_redact             = var.pii_redact
  max_upload_bytes       = var.max_upload_bytes
  log_retention_days     = var.log_retention_days
  log_level              = var.log_level
  release                = var.release
  reserve_concurrency    = var.reserve_concurrency
  # From the api module: its resources do not depend on these functions'
  # environment or policies, only on their ARNs, so there is no cycle.
  websocket_execution_arn = module.api.websocket_execution_arn
  auth_issuer             = module.api.issuer
  auth_audience           = [module.api.user_pool_client_id]
}

module "pipeline" {
  source             = "../modules/pipeline"
  global_prefix      = local.global_prefix
  name               = local.state_machine_name
  account_id         = local.account
  kms_key_arn        = module.keys.key_arn
  function_arns      = module.functions.function_arns
  log_retention_days = var.log_retention_days
}

module "api" {
  source               = "../modules/api"
  global_prefix        = local.global_prefix
  prefix               = local.prefix
  region               = local.region
  kms_key_arn          = module.keys.key_arn
  routes               = module.functions.routes
  websocket_function   = module.functions.websocket_function
  websocket_authorizer = module.functions.websocket_authorizer
  function_invoke_arns = module.functions.invoke_arns
  function_alias       = module.functions.alias
  function_arns        = module.functions.function_arns
  function_names       = module.functions.function_names
  cors_origins         = var.cors_origins
  throttle_rate        = var.api_throttle_rate
  throttle_burst       = var.api_throttle_burst
  self_sign_up         = var.self_sign_up
  deletion_protection  = var.deletion_protection
  log_retention_days   = var.log_retention_days
  app_urls             = [module.site.url]

  manage_account_logging = var.manage_api_gateway_account
}

module "site" {
  source           = "../modules/site"
  global_prefix    = local.global_prefix
  prefix           = local.prefix
  account_id       = local.account
  region           = local.region
  kms_key_arn      = module.keys.key_arn
  log_bucket       = module.storage.log_bucket
  force_destroy    = var.force_destroy
  web_dir          = var.web_dir
  api_url          = module.api.api_url
  api_routes       = keys(module.functions.routes)
  websocket_url    = module.api.websocket_url
  websocket_origin = module.api.websocket_origin
  upload_bucket    = module.storage.raw_bucket
  login_url        = module.api.login_url
  issuer           = module.api.issuer
  client_id        = module.api.user_pool_client_id
  domain_name      = var.site_domain
  certificate_arn  = var.site_certificate_arn
  price_class      = var.site_price_class
}

module "ses" {
  source            = "../modules/ses"
  enabled           = var.ses_inbound
  sending           = var.ses_sending
  prefix            = local.prefix
  domain            = var.mail_domain
  mailboxes         = var.mailboxes
  activate_rule_set = var.ses_activate_rule_set
  # The raw bucket's name as its policy resource outputs it: the receipt rules
  # wait for the policy that lets SES write there.
  raw_bucket          = module.storage.raw_bucket_with_policy
  inbound_mail_prefix = local.inbound_mail_prefix
}

module "observability" {
  source            = "../modules/observability"
  global_prefix     = local.global_prefix
  prefix            = local.prefix
  region            = local.region
  alarm_topic_arn   = module.messaging.alarm_topic_arn
  function_names    = module.functions.function_names
  function_timeouts = module.functions.timeouts
  log_group_names   = module.functions.log_group_names
  table_name        = module.data.table_name
  queue_name        = module.messaging.ingest_queue_name
  dlq_name          = module.messaging.ingest_dlq_name
  reminder_dlq_name = module.scheduler.undelivered_name
  state_machine_arn = module.pipeline.state_machine_arn
  http_api_id       = module.api.http_api_id
  latency_p99_ms    = var.api_latency_p99_ms

  chat_model_id           = local.chat_model_id
  embed_model_id          = var.embed_model_id
  model_prices_usd_per_1k = var.model_prices_usd_per_1k

  monthly_budget_usd       = var.monthly_budget_usd
  cost_anomaly_detection   = var.cost_anomaly_detection
  cost_anomaly_monitor_arn = var.cost_anomaly_monitor_arn
  anomaly_threshold_usd    = var.anomaly_threshold_usd
}
