output "app_url" {
  description = "Open this: the web app (sign in with your Cognito account)."
  value       = module.site.url
}

output "app_config" {
  description = "The config.json deployed with the web app."
  value       = module.site.config
}

output "site_bucket" {
  value = module.site.bucket
}

output "site_distribution_id" {
  value = module.site.distribution_id
}

output "login_url" {
  value = module.api.login_url
}

output "api_url" {
  value = module.api.api_url
}

output "websocket_url" {
  value = module.api.websocket_url
}

output "user_pool_id" {
  value = module.api.user_pool_id
}

output "user_pool_client_id" {
  value = module.api.user_pool_client_id
}

output "raw_bucket" {
  value = module.storage.raw_bucket
}

output "curated_bucket" {
  value = module.storage.curated_bucket
}

output "table_name" {
  value = module.data.table_name
}

output "state_machine_arn" {
  value = module.pipeline.state_machine_arn
}

output "opensearch_endpoint" {
  value = module.search.endpoint
}

output "reminder_topic_arn" {
  value = module.messaging.reminder_topic_arn
}

output "mail_dns_records" {
  description = "DNS records to add for SES: DKIM CNAMEs (sending) and the MX (receiving)."
  value       = module.ses.dns_records
}

output "drop_files_with" {
  description = "How the owner adds a file by hand (when owner_tenant is set)."
  value       = var.owner_tenant == "" ? "set owner_tenant to add files by copying them into the raw bucket" : "aws s3 cp <file> s3://${module.storage.raw_bucket}/inbox/"
}

output "function_names" {
  value = module.functions.function_names
}
