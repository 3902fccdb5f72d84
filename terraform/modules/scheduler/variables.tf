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
