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
