# One Lambda per catalog entry (provided.al2023, arm64, the zip `make build`
# wrote), each with its own role (baseline + the catalog's statements), its own
# KMS-encrypted log group, X-Ray tracing and, where it protects a downstream
# service, reserved concurrency. pipeline-router reads the ingest queue with
# partial batch responses. Every deploy publishes a version and moves the
# function's `live` alias to it; everything that invokes a function (API
# Gateway, the state machine, Scheduler, the queues, other functions) invokes
# the alias, so `make rollback-<env>` moves it back one version.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition

  # The resources statements name (see jarvis-aws iam::Resource).
  raw_objects        = "${var.raw_bucket_arn}/*"
  raw_bucket         = var.raw_bucket_arn
  curated_objects    = "${var.curated_bucket_arn}/*"
  curated_bucket     = var.curated_bucket_arn
  table              = [var.table_arn, "${var.table_arn}/index/*"]
  ingest_queue       = var.ingest_queue_arn
  state_machine      = var.state_machine_arn
  executions         = "${replace(var.state_machine_arn, ":stateMachine:", ":execution:")}:*"
  collection         = var.collection_arn
  models             = var.model_arns
  reminder_topic     = var.reminder_topic_arn
  schedules          = "arn:${local.partition}:scheduler:${local.region}:${local.account}:schedule/${var.schedule_group}/*"
  scheduler_role     = var.scheduler_role_arn
  kms_key            = var.kms_key_arn
  transcription_jobs = "arn:${local.partition}:transcribe:${local.region}:${local.account}:transcription-job/*"
  mail_identity      = var.mail_identity_arn
  connections        = "${var.websocket_execution_arn}/*/POST/@connections/*"
  tool_functions     = [for f in ["tool-tasks", "tool-reminders", "tool-email"] : "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.prefix}-${f}:${local.alias}"]
  reminder_dlq       = var.reminder_dlq_arn
  job_functions      = [for f in ["erase-tenant"] : "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.prefix}-${f}:${local.alias}"]
  any                = "*"

  # Built from its name: tool-reminders needs it before reminder-fire exists.
  reminder_target_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.prefix}-reminder-fire:${local.alias}"

  # The alias every caller invokes; `make rollback-<env>` moves it.
  alias = "live"

  names = { for name, _ in local.functions : name => "${var.prefix}-${name}" }

  # What the invoking service needs from the function's own role, by trigger:
  # Lambda polling an SQS queue (iam::SQS_EVENT_SOURCE). Others need nothing here.
  trigger_statements = {
    ingest_queue = [
      { actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], resources = [local.ingest_queue] },
      { actions = ["kms:Decrypt"], resources = [local.kms_key] },
    ]
    # The schedules' target also drains their dead-letter queue (iam::REMINDER_DLQ_EVENT_SOURCE).
    reminders = [
      { actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], resources = [local.reminder_dlq] },
      { actions = ["kms:Decrypt"], resources = [local.kms_key] },
    ]
  }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${local.names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${var.global_prefix}-${each.key}"
  description        = "Least privilege for ${each.key}: ${each.value.description}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  # Baseline (iam::BASELINE): the function's own log group and X-Ray.
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = concat(each.value.statements, lookup(local.trigger_statements, each.value.trigger, []))
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "least-privilege"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_117:No VPC: the functions only call AWS APIs over TLS with IAM auth; a VPC would add NAT or endpoint cost and cold-start time for no isolation gain.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zips are built from this repository by `make build` and deployed by the same pipeline.
  #checkov:skip=CKV_AWS_116:Invoked synchronously (API Gateway, Step Functions, the SQS mapping): the caller retries and owns the dead-letter queue (the ingest DLQ, the state machine's Catch).
  #checkov:skip=CKV_AWS_115:Reserved concurrency is set where it protects a downstream quota (catalog.tf); reserving it everywhere would exhaust a new account's 10-execution pool.
  for_each = local.functions

  function_name = local.names[each.key]
  # The release starts the description, so every deploy publishes a version
  # of every function, and each version says which deploy it belongs to.
  description = substr("release ${var.release}: ${each.value.description}", 0, 256)
  role        = aws_iam_role.function[each.key].arn
  handler     = "bootstrap"
  runtime     = "provided.al2023"
  # Each deploy that changes the code or configuration is a new version.
  publish       = true
  architectures = ["arm64"]
  filename      = "${var.artifacts_dir}/${each.key}/bootstrap.zip"
  # Unknown until `make build` wrote the zip; plan reads it then.
  source_code_hash = fileexists("${var.artifacts_dir}/${each.key}/bootstrap.zip") ? filebase64sha256("${var.artifacts_dir}/${each.key}/bootstrap.zip") : null

  memory_size                    = each.value.memory
  timeout                        = each.value.timeout
  reserved_concurrent_executions = var.reserve_concurrency && each.value.reserved != null ? each.value.reserved : -1
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge(each.value.env, { RUST_LOG = var.log_level })
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  depends_on = [aws_iam_role_policy.function]
}

resource "aws_lambda_alias" "live" {
  for_each         = local.functions
  name             = local.alias
  description      = "What every caller invokes: the deployed version, or the one a rollback chose."
  function_name    = aws_lambda_function.function[each.key].function_name
  function_version = aws_lambda_function.function[each.key].version
}

resource "aws_lambda_event_source_mapping" "ingest" {
  for_each = { for name, f in local.functions : name => f if f.trigger == "ingest_queue" }

  event_source_arn                   = var.ingest_queue_arn
  function_name                      = aws_lambda_alias.live[each.key].arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 5
  function_response_types            = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = 5
  }
}

# Jobs started by an asynchronous invoke (erase-tenant): Lambda retries a
# failed run twice; a job not run within an hour is dropped, and the erasure
# record still says `running`, so DELETE /me/data starts it again.
resource "aws_lambda_function_event_invoke_config" "job" {
  for_each = { for name, f in local.functions : name => f if f.trigger == "async_invoke" }

  function_name                = aws_lambda_function.function[each.key].function_name
  qualifier                    = aws_lambda_alias.live[each.key].name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

# Reminder deliveries Scheduler gave up on are fired late by their target:
# reminder-fire reads the schedules' dead-letter queue, answering the records
# that failed again (after the queue's receive limit they move on to the
# undelivered queue, which alarms).
resource "aws_lambda_event_source_mapping" "late_reminders" {
  for_each = { for name, f in local.functions : name => f if f.trigger == "reminders" }

  event_source_arn        = var.reminder_dlq_arn
  function_name           = aws_lambda_alias.live[each.key].arn
  batch_size              = 5
  function_response_types = ["ReportBatchItemFailures"]
}
