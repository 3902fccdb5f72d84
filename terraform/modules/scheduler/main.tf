# The schedule group reminders live in, the role EventBridge Scheduler assumes to
# invoke their target, and the recurring jobs (nightly memory reflection).

resource "aws_scheduler_schedule_group" "reminders" {
  name = "${var.prefix}-reminders"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.global_prefix}-scheduler"
  description        = "Assumed by EventBridge Scheduler to invoke reminder and nightly targets."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

locals {
  targets = concat(var.target_function_arns, values(var.nightly_function_arns))
}

# Reminder deliveries Scheduler could not make after every retry (the target
# failed or was throttled for 24 hours) land here instead of being dropped.
resource "aws_sqs_queue" "reminders_dlq" {
  name                      = "${var.prefix}-reminders-dlq"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
  # reminder-fire drains this queue (firing late); longer than its claim lease
  # (90 s), so a redelivery finds an abandoned claim expired.
  visibility_timeout_seconds = 120
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.reminders_undelivered.arn
    maxReceiveCount     = 5
  })
}

# What reminder-fire could not deliver even late, after five tries from the
# dead-letter queue, waits here for a person; an alarm watches its depth.
resource "aws_sqs_queue" "reminders_undelivered" {
  name                      = "${var.prefix}-reminders-undelivered"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
}

data "aws_iam_policy_document" "dead_letters" {
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.reminders_dlq.arn]
  }
  # GenerateDataKey: sending to the KMS-encrypted dead-letter queue. Decrypt:
  # the nightly schedules keep their input encrypted with the stack's key
  # (kms_key_arn), and Scheduler decrypts it as this execution role before
  # each invocation (EventBridge Scheduler user guide, "Encryption at rest").
  statement {
    sid       = "StackKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "dead_letters" {
  name   = "send-dead-letters"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.dead_letters.json
}

data "aws_iam_policy_document" "invoke" {
  count = length(local.targets) > 0 ? 1 : 0
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = local.targets
  }
}

resource "aws_iam_role_policy" "invoke" {
  count  = length(local.targets) > 0 ? 1 : 0
  name   = "invoke-targets"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.invoke[0].json
}

resource "aws_scheduler_schedule" "nightly" {
  for_each                     = var.nightly_function_arns
  name                         = "${var.prefix}-${each.key}-nightly"
  description                  = "Runs ${each.key} every night."
  schedule_expression          = var.nightly_cron
  schedule_expression_timezone = var.timezone
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 60
  }

  target {
    arn      = each.value
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "schedule", job = "nightly" })
    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 21600
    }
  }
}
