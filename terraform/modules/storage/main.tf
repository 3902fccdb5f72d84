# The raw bucket (what users and mail drop in), the curated bucket (extracted
# text, chunks, embeddings, transcripts) and their access-log bucket.

locals {
  log_bucket_name = "${var.global_prefix}-access-logs-${var.account_id}"
  raw_bucket_name = "${var.global_prefix}-raw-${var.account_id}"
}

data "aws_iam_policy_document" "log_delivery" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${local.log_bucket_name}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

# SES receipt rules write inbound mail under each tenant's folder.
data "aws_iam_policy_document" "ses_inbound" {
  statement {
    sid       = "SesInbound"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${local.raw_bucket_name}/*/${var.inbound_mail_prefix}*"]
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

module "logs" {
  source            = "../bucket"
  name              = local.log_bucket_name
  kms_key_arn       = var.kms_key_arn
  force_destroy     = var.force_destroy
  expire_days       = var.access_log_days
  extra_policy_json = data.aws_iam_policy_document.log_delivery.json
}

module "raw" {
  source            = "../bucket"
  name              = local.raw_bucket_name
  kms_key_arn       = var.kms_key_arn
  log_bucket        = module.logs.id
  force_destroy     = var.force_destroy
  extra_policy_json = var.allow_ses_inbound ? data.aws_iam_policy_document.ses_inbound.json : null
}

module "curated" {
  source        = "../bucket"
  name          = "${var.global_prefix}-curated-${var.account_id}"
  kms_key_arn   = var.kms_key_arn
  log_bucket    = module.logs.id
  force_destroy = var.force_destroy
}

# Browsers upload straight to the raw bucket with pre-signed PUT URLs. The
# headers allowed are the signed ones a browser may set: the type, and
# If-None-Match (an upload that must not replace a file); the browser sets
# Content-Length itself.
resource "aws_s3_bucket_cors_configuration" "raw" {
  count  = length(var.upload_origins) > 0 ? 1 : 0
  bucket = module.raw.id
  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = var.upload_origins
    allowed_headers = ["content-type", "if-none-match"]
    max_age_seconds = 3600
  }
}
