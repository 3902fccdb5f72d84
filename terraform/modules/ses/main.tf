# Two separate switches on one domain identity:
# - sending: the identity Jarvis sends mail from (tool-email), verified by the
#   DKIM records in the `dns_records` output;
# - receiving (needs the domain's MX to point at SES inbound, also in
#   `dns_records`): mail to each configured mailbox is written to the raw
#   bucket under its tenant, <tenant>/inbound-mail/<message id>, where the
#   pipeline picks it up as mail.

locals {
  identity = var.sending || var.enabled
}

data "aws_region" "current" {}

resource "aws_sesv2_email_identity" "domain" {
  count          = local.identity ? 1 : 0
  email_identity = var.domain
}

resource "aws_ses_receipt_rule_set" "inbound" {
  count         = var.enabled ? 1 : 0
  rule_set_name = "${var.prefix}-inbound"
}

resource "aws_ses_receipt_rule" "mailbox" {
  for_each      = var.enabled ? var.mailboxes : {}
  name          = "${var.prefix}-${substr(sha256(each.key), 0, 12)}"
  rule_set_name = aws_ses_receipt_rule_set.inbound[0].rule_set_name
  recipients    = [each.key]
  enabled       = true
  scan_enabled  = true
  tls_policy    = "Require"

  s3_action {
    position    = 1
    bucket_name = var.raw_bucket
    # No kms_key_arn here: that is SES client-side encryption, which S3 reads
    # cannot undo. The bucket's default SSE-KMS encrypts the mail at rest.
    object_key_prefix = "${each.value}/${var.inbound_mail_prefix}"
  }
}

# A region has one active receipt rule set, and activating this one silently
# deactivates any other: only on the operator's explicit opt-in.
resource "aws_ses_active_receipt_rule_set" "inbound" {
  count         = var.enabled && var.activate_rule_set ? 1 : 0
  rule_set_name = aws_ses_receipt_rule_set.inbound[0].rule_set_name
}
