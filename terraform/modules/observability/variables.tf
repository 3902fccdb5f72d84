variable "global_prefix" {
  description = "Names that are global to the account or to AWS (IAM roles, buckets, CloudFront, budgets): the prefix with the region, so two regions of one account do not collide."
  type        = string
}

variable "prefix" {
  type = string
}

variable "region" {
  type = string
}

variable "alarm_topic_arn" {
  type = string
}

variable "function_names" {
  description = "Function crate name → deployed function name."
  type        = map(string)
}

variable "queue_name" {
  type = string
}

variable "reminder_dlq_name" {
  description = "Reminder deliveries given up on twice: by Scheduler, then by reminder-fire draining its dead-letter queue."
  type        = string
}

variable "dlq_name" {
  type = string
}

variable "state_machine_arn" {
  type = string
}

variable "http_api_id" {
  type = string
}

variable "function_error_threshold" {
  type    = number
  default = 1
}

variable "failed_execution_threshold" {
  type    = number
  default = 1
}

variable "latency_p99_ms" {
  type    = number
  default = 3000
}

variable "monthly_budget_usd" {
  description = "The monthly cost budget (USD) of the account this environment runs in; alerts at 80% and 100%."
  type        = number
}

variable "cost_anomaly_detection" {
  description = "Cost Anomaly Detection on AWS services, alerting the alarm topic (one such monitor per account)."
  type        = bool
}

variable "cost_anomaly_monitor_arn" {
  description = "An existing AWS-services monitor to subscribe to; empty: create one."
  type        = string
  default     = ""
}

variable "anomaly_threshold_usd" {
  description = "Alert on a cost anomaly whose total impact is at least this many USD."
  type        = number
}

variable "function_timeouts" {
  description = "Function crate name → timeout in seconds."
  type        = map(number)
}

variable "table_name" {
  type = string
}

variable "log_group_names" {
  description = "Function crate name → its log group."
  type        = map(string)
}

variable "chat_model_id" {
  description = "The chat model (or inference profile) id the functions report in their metrics."
  type        = string
}

variable "embed_model_id" {
  description = "The embedding model id the functions report in their metrics."
  type        = string
}

variable "model_prices_usd_per_1k" {
  description = "On-demand prices per 1,000 tokens, for the dashboard's cost estimate."
  type = object({
    chat_input  = number
    chat_output = number
    embed_input = number
  })
}
