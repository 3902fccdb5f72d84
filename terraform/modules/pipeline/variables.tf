variable "global_prefix" {
  description = "Names that are global to the account or to AWS (IAM roles, buckets, CloudFront, budgets): the prefix with the region, so two regions of one account do not collide."
  type        = string
}

variable "name" {
  description = "The state machine's name (pipeline-router's JARVIS_STATE_MACHINE_ARN is built from it)."
  type        = string
}

variable "account_id" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "function_arns" {
  description = "Function crate name → Lambda ARN; the ASL names its steps as $${fn_<crate_name>}."
  type        = map(string)
}

variable "poll_seconds" {
  description = "Wait between checks of an asynchronous job (Transcribe, Textract)."
  type        = number
  default     = 20
}

variable "max_polls" {
  description = "Checks before a still-running job fails the document."
  type        = number
  default     = 360
}

variable "execution_timeout_seconds" {
  type    = number
  default = 14400
}

variable "log_retention_days" {
  type = number
}
