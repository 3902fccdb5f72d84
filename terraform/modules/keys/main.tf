# One customer-managed KMS key for everything Jarvis keeps at rest: buckets,
# queues, topics, the table, logs, the state machine and Lambda environments.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.name
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; writes are limited by principal and source account.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (the AWS default key policy); IAM decides who uses it.
  # The account administers the key; IAM policies decide who uses it.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account}:root"]
    }
  }

  # Services that encrypt on Jarvis's behalf, only for this account's resources.
  statement {
    sid       = "ServicesEncrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:Encrypt", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "sns.amazonaws.com",
        "sqs.amazonaws.com",
        "s3.amazonaws.com",
        "states.amazonaws.com",
        # CloudWatch alarms publish to the encrypted alarm topic; CloudWatch
        # sends aws:SourceAccount with the data-key request.
        "cloudwatch.amazonaws.com",
        "ses.amazonaws.com",
        "scheduler.amazonaws.com",
      ]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }

  # Services that deliver into the encrypted ingest queue and alarm topic:
  # EventBridge (the raw bucket's object-created events), AWS Budgets and Cost
  # Anomaly Detection. Their data-key requests do not carry aws:SourceAccount
  # or aws:SourceArn (the EventBridge and SNS guides' key policies for
  # encrypted targets have no such condition), so a condition on either would
  # drop every delivery silently. They get only what sending into an encrypted
  # queue or topic takes; the queue and topic policies name the source account.
  statement {
    sid       = "ServicesDeliverToEncryptedTargets"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type = "Service"
      identifiers = [
        "events.amazonaws.com",
        "budgets.amazonaws.com",
        "costalerts.amazonaws.com",
      ]
    }
  }
}

data "aws_iam_policy_document" "logs" {
  source_policy_documents = [data.aws_iam_policy_document.key.json]

  # S3 server access logs: the log bucket is SSE-KMS with this key, and S3's
  # logging service writes each log object itself (as the bucket policy's
  # logging.s3.amazonaws.com), so without this grant no log is ever delivered.
  # PutObject under SSE-KMS needs GenerateDataKey only.
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:s3:::${var.global_prefix}-*"]
    }
  }

  # Step Functions log delivery: a state machine encrypted with this key hands
  # its log events to CloudWatch's vended-log delivery, which decrypts them
  # before writing to the (also encrypted) log group. The Step Functions
  # developer guide ("Data at rest encryption", CloudWatch Logs) requires this.
  statement {
    sid       = "StepFunctionsLogDelivery"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }

  # CloudFront reads the web app's files from the SSE-KMS site bucket through
  # origin access control: S3 decrypts each object as CloudFront, so the key
  # must let CloudFront decrypt, for this account's distributions only (the
  # distribution's own ARN would make the key wait for the distribution).
  statement {
    sid       = "CloudFrontReadsTheSite"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudfront::${local.account}:distribution/*"]
    }
  }

  # CloudWatch Logs encrypts this account's log groups.
  statement {
    sid       = "LogsEncrypt"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:Encrypt", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account}:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.prefix}: data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  policy                  = data.aws_iam_policy_document.logs.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.prefix}"
  target_key_id = aws_kms_key.this.key_id
}
