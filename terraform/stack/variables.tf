variable "region_in_global_names" {
  description = "Put the region in names that are global to the account or to AWS (IAM roles, buckets, CloudFront, the budget). Leave true; false keeps the names of a stack deployed before they carried it (renaming would replace its buckets)."
  type        = bool
  default     = true
}

variable "env" {
  description = "dev, staging or prod: names every resource jarvis-<env>-…"
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.env))
    error_message = "env is 2-16 lowercase letters, digits or dashes."
  }
}

variable "artifacts_dir" {
  description = "Where `make build` wrote <function>/bootstrap.zip."
  type        = string
}

variable "timezone" {
  description = "Users' default time zone (IANA), for the nightly jobs."
  type        = string
  default     = "UTC"
}

variable "embed_model_id" {
  type    = string
  default = "amazon.titan-embed-text-v2:0"
}

variable "embed_dimensions" {
  type    = number
  default = 1024
}

variable "chat_model_id" {
  description = "The chat model or inference profile id; empty: default_chat_model through the region's geography profile (us., eu., global.)."
  type        = string
  default     = ""
}

variable "default_chat_model" {
  description = "The chat model an empty chat_model_id uses, without its geography prefix."
  type        = string
  default     = "anthropic.claude-haiku-4-5-20251001-v1:0"
}

variable "model_prices_usd_per_1k" {
  description = "Bedrock on-demand prices per 1,000 tokens (the dashboard's cost estimate): Claude Haiku 4.5 and Titan Text Embeddings V2 list prices."
  type = object({
    chat_input  = number
    chat_output = number
    embed_input = number
  })
  default = { chat_input = 0.001, chat_output = 0.005, embed_input = 0.00002 }
}

variable "extra_model_arns" {
  description = "More model or inference-profile ARNs to allow (cross-region inference profiles)."
  type        = list(string)
  default     = []
}

variable "opensearch_index" {
  type    = string
  default = "jarvis-chunks"
}

variable "search_standby_replicas" {
  type    = bool
  default = false
}

variable "router_timeout_seconds" {
  type    = number
  default = 60
}

variable "pii_redact" {
  description = "Mask detected PII before indexing."
  type        = bool
  default     = false
}

variable "max_upload_bytes" {
  description = "Largest POST /documents body; API Gateway to Lambda carries at most 6 MB (base64 included)."
  type        = number
  default     = 4000000
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "release" {
  description = "What this deploy is (make plan passes the git commit): part of every function version's description, which make rollback-<env> reads."
  type        = string
  default     = "unversioned"
}

variable "log_level" {
  type    = string
  default = "info"
}

variable "reserve_concurrency" {
  description = "Reserve concurrency where the catalog says (71 executions). Lambda keeps 100 of the account's pool unreserved, so this needs a concurrency quota of at least 171; a new account has 10. make preflight-<env> checks the quota."
  type        = bool
  default     = false
}

variable "force_destroy" {
  description = "Let destroy remove non-empty buckets (dev)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the table and the user pool from deletion."
  type        = bool
  default     = true
}

variable "cors_origins" {
  description = "More web origins allowed to call the API and upload with pre-signed URLs (the deployed web app needs none: it is on the API's origin)."
  type        = list(string)
  default     = []
}

variable "api_throttle_rate" {
  type    = number
  default = 20
}

variable "api_throttle_burst" {
  type    = number
  default = 40
}

variable "api_latency_p99_ms" {
  type    = number
  default = 3000
}

variable "self_sign_up" {
  type    = bool
  default = false
}

variable "reminder_subscriptions" {
  description = "Tenant (Cognito sub) => address its reminders are mailed to."
  type        = map(string)
  default     = {}
}

variable "alarm_emails" {
  type    = list(string)
  default = []
}

variable "ses_activate_rule_set" {
  description = "Make Jarvis's receipt rule set the region's active one. A region has one active rule set, and activating this one silently deactivates any other (another app's inbound mail stops): leave false and add the rules to the active set yourself, or set true where SES receives for nothing else."
  type        = bool
  default     = false
}

variable "ses_inbound" {
  description = "Receive mail through SES into the raw bucket (needs mail_domain)."
  type        = bool
  default     = false
}

variable "mail_domain" {
  type    = string
  default = ""
}

variable "mailboxes" {
  description = "Inbound address → tenant id (Cognito sub)."
  type        = map(string)
  default     = {}
}

variable "manage_api_gateway_account" {
  description = "Set API Gateway's account-wide CloudWatch Logs role (one per account and region). Leave true in a fresh account; false where another stack already sets it."
  type        = bool
  default     = true
}

variable "monthly_budget_usd" {
  description = "The monthly cost budget (USD) of the account; AWS Budgets alerts the alarm topic at 80% and 100% (and at 100% forecast)."
  type        = number
  default     = 300
}

variable "cost_anomaly_detection" {
  description = "Alert the alarm topic on cost anomalies. An account holds one AWS-services monitor, and AWS creates Default-Services-Monitor itself in most accounts: set cost_anomaly_monitor_arn to subscribe to that one (make preflight-<env> prints its ARN); left empty, this creates the monitor, which fails where one exists."
  type        = bool
  default     = false
}

variable "cost_anomaly_monitor_arn" {
  description = "An existing AWS-services cost anomaly monitor to subscribe to (arn:aws:ce::<account>:anomalymonitor/<id>); empty: create one when cost_anomaly_detection is on."
  type        = string
  default     = ""
}

variable "anomaly_threshold_usd" {
  description = "Alert on a cost anomaly whose total impact is at least this many USD."
  type        = number
  default     = 20
}

variable "ses_sending" {
  description = "Send mail from mail_domain through SES (creates the identity; add the DKIM records in the dns_records output). Independent of ses_inbound."
  type        = bool
  default     = false
}

variable "owner_tenant" {
  description = "A single-owner deployment: the Cognito sub whose documents are the files copied into the raw bucket by hand (s3://<raw>/inbox/… or its root). Empty: such files are ignored."
  type        = string
  default     = ""
}

variable "web_dir" {
  description = "The web app's folder, uploaded to the site bucket."
  type        = string
}

variable "site_domain" {
  description = "Serve the web app at this host name (a CNAME to the distribution); empty: its cloudfront.net name."
  type        = string
  default     = ""
}

variable "site_certificate_arn" {
  description = "An ACM certificate in us-east-1 covering site_domain."
  type        = string
  default     = ""
}

variable "site_price_class" {
  description = "CloudFront price class for the web app: PriceClass_100, PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"
}
