variable "name" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "log_bucket" {
  description = "Bucket receiving this bucket's access logs; null for the log bucket itself."
  type        = string
  default     = null
}

variable "force_destroy" {
  type    = bool
  default = false
}

variable "noncurrent_version_days" {
  type    = number
  default = 30
}

variable "expire_days" {
  description = "Delete objects this many days old (access logs); null keeps them."
  type        = number
  default     = null
}

variable "extra_policy_json" {
  description = "More bucket-policy statements (log delivery, SES inbound)."
  type        = string
  default     = null
}
