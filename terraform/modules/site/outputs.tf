output "url" {
  description = "The web app's address."
  value       = local.url
}

output "distribution_id" {
  value = aws_cloudfront_distribution.site.id
}

output "bucket" {
  value = module.bucket.id
}

output "config" {
  description = "The config.json the app reads, as deployed."
  value       = local.config
}
