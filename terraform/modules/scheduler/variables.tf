variable "global_prefix" {
  description = "Names that are global to the account or to AWS (IAM roles, buckets, CloudFront, budgets): the prefix with the region, so two regions of one account do not collide."
  type        = string
}

variable "prefix" {
  type = string
}

variable "account_id" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "target_function_arns" {
  description = "Functions that one-time and recurring reminders invoke (reminder-fire)."
  type        = list(string)
  default     = []
}

variable "nightly_function_arns" {
  description = "Function name → ARN run every night (memory-reflector)."
  type        = map(string)
  default     = {}
}

variable "nightly_cron" {
  type    = string
  default = "cron(30 3 * * ? *)"
}

variable "timezone" {
  description = "Zone of the nightly schedule."
  type        = string
  default     = "UTC"
}
