variable "global_prefix" {
  description = "Names that are global to the account or to AWS (IAM roles, buckets, CloudFront, budgets): the prefix with the region, so two regions of one account do not collide."
  type        = string
}

variable "prefix" {
  type = string
}

variable "artifacts_dir" {
  description = "Where `make build` put <function>/bootstrap.zip."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "raw_bucket" {
  type = string
}

variable "raw_bucket_arn" {
  type = string
}

variable "curated_bucket" {
  type = string
}

variable "curated_bucket_arn" {
  type = string
}

variable "table_name" {
  type = string
}

variable "table_arn" {
  type = string
}

variable "ingest_queue_arn" {
  type = string
}

variable "state_machine_arn" {
  type = string
}

variable "collection_arn" {
  type = string
}

variable "opensearch_endpoint" {
  type = string
}

variable "opensearch_index" {
  type = string
}

variable "embed_model_id" {
  type = string
}

variable "embed_dimensions" {
  type = number
}

variable "model_arns" {
  description = "Foundation models the functions may invoke."
  type        = list(string)
}

variable "reminder_topic_arn" {
  type = string
}

variable "schedule_group" {
  type = string
}

variable "scheduler_role_arn" {
  type = string
}

variable "reminder_dlq_arn" {
  description = "Where Scheduler puts reminder deliveries it could not make."
  type        = string
}

variable "mail_identity_arn" {
  description = "The SES identity mail is sent from."
  type        = string
}

variable "router_timeout_seconds" {
  type = number
}

variable "pii_redact" {
  type = bool
}

variable "max_upload_bytes" {
  description = "Largest POST /documents body (API Gateway to Lambda carries 6 MB, base64 included)."
  type        = number
}

variable "log_retention_days" {
  type = number
}

variable "release" {
  description = "The deploy's release id; every function version's description starts with it."
  type        = string
  default     = "unversioned"
}

variable "log_level" {
  description = "RUST_LOG for every function."
  type        = string
  default     = "info"
}

variable "reserve_concurrency" {
  description = "Apply the catalog's reserved concurrency (off on accounts with a 10-execution pool)."
  type        = bool
  default     = true
}

variable "chat_model_id" {
  description = "The Bedrock model api-chat converses with."
  type        = string
}

variable "time_zone" {
  description = "The users' time zone (IANA), for reminders and due dates typed as words."
  type        = string
}

variable "mail_from" {
  description = "The From address of mail Jarvis sends (an SES-verified identity)."
  type        = string
}

variable "websocket_execution_arn" {
  description = "The WebSocket API's execution ARN (chat-stream posts to its connections)."
  type        = string
}

variable "auth_issuer" {
  description = "The user pool's issuer URL (ws-authorizer verifies its tokens)."
  type        = string
}

variable "auth_audience" {
  description = "The app client ids tokens may be issued to."
  type        = list(string)
}

variable "owner_tenant" {
  description = "The tenant (Cognito sub) owning files dropped into the raw bucket by hand (inbox/ or its root); empty: nobody."
  type        = string
  default     = ""
}
