output "id" {
  value = aws_s3_bucket.this.id
}

output "arn" {
  value = aws_s3_bucket.this.arn
}

output "regional_domain_name" {
  value = aws_s3_bucket.this.bucket_regional_domain_name
}

# The bucket's name, read from its policy: whatever uses it waits until the
# policy (the grants to AWS services) is in place.
output "name_with_policy" {
  value = aws_s3_bucket_policy.this.bucket
}
