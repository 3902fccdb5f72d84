# The root module of every environment (envs/<env>/main.tf links here); the
# environment's own settings are its terraform.tfvars, its state location its
# backend.hcl (copy backend.hcl.example).

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.62"
    }
  }
  # S3 remote state with S3-native locking; settings come from backend.hcl.
  backend "s3" {}
}

variable "region" {
  type = string
}

variable "settings" {
  description = "Everything the stack module takes besides env and artifacts_dir (see terraform/stack/variables.tf)."
  type        = any
  default     = {}
}

variable "env" {
  type = string
}

variable "release" {
  description = "The deploy's release id; make plan-<env> passes the git commit."
  type        = string
  default     = "unversioned"
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = "jarvis"
      Environment = var.env
      ManagedBy   = "terraform"
    }
  }
}

module "jarvis" {
  source        = "../../stack"
  env           = var.env
  artifacts_dir = "${path.root}/../../../target/lambda"
  web_dir       = "${path.root}/../../../web"
  release       = var.release

  region_in_global_names = lookup(var.settings, "region_in_global_names", true)

  timezone                = lookup(var.settings, "timezone", "UTC")
  chat_model_id           = lookup(var.settings, "chat_model_id", "")
  extra_model_arns        = lookup(var.settings, "extra_model_arns", [])
  model_prices_usd_per_1k = lookup(var.settings, "model_prices_usd_per_1k", { chat_input = 0.001, chat_output = 0.005, embed_input = 0.00002 })
  search_standby_replicas = lookup(var.settings, "search_standby_replicas", false)
  pii_redact              = lookup(var.settings, "pii_redact", false)
  log_retention_days      = lookup(var.settings, "log_retention_days", 365)
  log_level               = lookup(var.settings, "log_level", "info")
  reserve_concurrency     = lookup(var.settings, "reserve_concurrency", false)
  force_destroy           = lookup(var.settings, "force_destroy", false)
  deletion_protection     = lookup(var.settings, "deletion_protection", true)
  cors_origins            = lookup(var.settings, "cors_origins", [])
  api_throttle_rate       = lookup(var.settings, "api_throttle_rate", 20)
  api_throttle_burst      = lookup(var.settings, "api_throttle_burst", 40)
  self_sign_up            = lookup(var.settings, "self_sign_up", false)
  reminder_subscriptions  = lookup(var.settings, "reminder_subscriptions", {})
  alarm_emails            = lookup(var.settings, "alarm_emails", [])
  ses_inbound             = lookup(var.settings, "ses_inbound", false)
  ses_sending             = lookup(var.settings, "ses_sending", false)
  ses_activate_rule_set   = lookup(var.settings, "ses_activate_rule_set", false)
  owner_tenant            = lookup(var.settings, "owner_tenant", "")
  mail_domain             = lookup(var.settings, "mail_domain", "")
  mailboxes               = lookup(var.settings, "mailboxes", {})

  manage_api_gateway_account = lookup(var.settings, "manage_api_gateway_account", true)
  monthly_budget_usd         = lookup(var.settings, "monthly_budget_usd", 300)
  cost_anomaly_detection     = lookup(var.settings, "cost_anomaly_detection", false)
  cost_anomaly_monitor_arn   = lookup(var.settings, "cost_anomaly_monitor_arn", "")
  anomaly_threshold_usd      = lookup(var.settings, "anomaly_threshold_usd", 20)

  site_domain          = lookup(var.settings, "site_domain", "")
  site_certificate_arn = lookup(var.settings, "site_certificate_arn", "")
  site_price_class     = lookup(var.settings, "site_price_class", "PriceClass_100")
}

output "app_url" {
  description = "The web app: open it and sign in."
  value       = module.jarvis.app_url
}

output "app_config" {
  description = "The config.json deployed with the web app (API, WebSocket and sign-in settings)."
  value       = module.jarvis.app_config
}

output "login_url" {
  description = "Cognito managed login's address."
  value       = module.jarvis.login_url
}

output "site_bucket" {
  value = module.jarvis.site_bucket
}

output "site_distribution_id" {
  value = module.jarvis.site_distribution_id
}

output "api_url" {
  value = module.jarvis.api_url
}

output "websocket_url" {
  value = module.jarvis.websocket_url
}

output "user_pool_id" {
  value = module.jarvis.user_pool_id
}

output "user_pool_client_id" {
  value = module.jarvis.user_pool_client_id
}

output "raw_bucket" {
  value = module.jarvis.raw_bucket
}

output "curated_bucket" {
  value = module.jarvis.curated_bucket
}

output "state_machine_arn" {
  value = module.jarvis.state_machine_arn
}

output "opensearch_endpoint" {
  value = module.jarvis.opensearch_endpoint
}

output "mail_dns_records" {
  description = "Add these to the mail domain's DNS (DKIM for sending, MX for receiving)."
  value       = module.jarvis.mail_dns_records
}

output "drop_files_with" {
  description = "The command that adds a file by hand (owner_tenant set)."
  value       = module.jarvis.drop_files_with
}

output "function_names" {
  description = "Each function's name (make rollback-<env> moves their live aliases)."
  value       = module.jarvis.function_names
}
