output "raw_bucket" {
  value = module.raw.id
}

output "raw_bucket_arn" {
  value = module.raw.arn
}

output "curated_bucket" {
  value = module.curated.id
}

output "curated_bucket_arn" {
  value = module.curated.arn
}

output "log_bucket" {
  description = "The access-log bucket every other bucket logs into."
  value       = module.logs.id
}

# SES checks at CreateReceiptRule that it may write to the bucket, and answers
# InvalidS3Configuration when the bucket policy granting it is not there yet:
# the receipt rules take the bucket's name from here, after the policy.
output "raw_bucket_with_policy" {
  value = module.raw.name_with_policy
}
