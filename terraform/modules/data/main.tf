# One tenant-keyed table: pk = TENANT#<tenant>, sk = DOC#<id> (and, as features
# land, other item kinds under the same tenant partition). GSI gsi1 finds a
# document by content ETag. TTL on `expires_at`; point-in-time recovery; KMS.

resource "aws_dynamodb_table" "this" {
  name                        = "${var.prefix}-data"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "gsi1pk"
    type = "S"
  }
  attribute {
    name = "gsi1sk"
    type = "S"
  }

  global_secondary_index {
    name            = "gsi1"
    hash_key        = "gsi1pk"
    range_key       = "gsi1sk"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # Continuous backups for 35 days (AWS's maximum and default): an item
  # erased today can be restored into a new table until then, and not after.
  point_in_time_recovery {
    enabled                 = true
    recovery_period_in_days = 35
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
