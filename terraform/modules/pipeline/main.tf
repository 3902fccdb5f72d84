# The ingestion state machine (Standard workflow) from state-machine.asl.json,
# with its own role (invoke exactly the step functions it names), logging to a
# KMS-encrypted log group, and X-Ray tracing.

locals {
  # ${fn_<crate_name>} in the ASL file → that function's ARN.
  template_vars = merge(
    { for name, arn in var.function_arns : "fn_${replace(name, "-", "_")}" => arn },
    {
      poll_seconds              = var.poll_seconds
      max_polls                 = var.max_polls
      execution_timeout_seconds = var.execution_timeout_seconds
    },
  )
  definition = templatefile("${path.module}/state-machine.asl.json", local.template_vars)

  # The Task states' functions, read back from the rendered definition.
  task_arns = distinct(compact([
    for s in values(jsondecode(local.definition).States) : try(s.Resource, "") if s.Type == "Task"
  ]))
}

resource "aws_cloudwatch_log_group" "pipeline" {
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = "${var.global_prefix}-pipeline"
  description        = "Runs the ingestion state machine: invokes its step functions only."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "InvokeSteps"
    actions   = ["lambda:InvokeFunction"]
    resources = local.task_arns
  }
  # Execution data is encrypted with the stack's key.
  statement {
    sid       = "ExecutionDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid = "Tracing"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
  # Vended log delivery has no resource-level permissions.
  statement {
    sid = "LogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "invoke-steps"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_sfn_state_machine" "pipeline" {
  #checkov:skip=CKV_AWS_285:Execution history is logged (level ERROR) without execution data: the data holds users' object keys and file names.
  name       = var.name
  type       = "STANDARD"
  role_arn   = aws_iam_role.pipeline.arn
  definition = local.definition

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.pipeline.arn}:*"
    level           = "ERROR"
    # Execution data holds object keys and file names: kept out of the logs.
    include_execution_data = false
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  depends_on = [aws_iam_role_policy.pipeline]
}
