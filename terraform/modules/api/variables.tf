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

variable "kms_key_arn" {
  type = string
}

variable "routes" {
  description = "HTTP route key → function crate name."
  type        = map(string)
}

variable "function_arns" {
  type = map(string)
}

variable "function_names" {
  type = map(string)
}

variable "function_invoke_arns" {
  type = map(string)
}

variable "websocket_authorizer" {
  description = "The function authorizing WebSocket connections; null until one exists."
  type        = string
  default     = null
}

variable "websocket_function" {
  description = "The function serving the WebSocket routes; null until one exists."
  type        = string
  default     = null
}

variable "cors_origins" {
  type    = list(string)
  default = []
}

variable "throttle_rate" {
  description = "Steady requests per second across the API."
  type        = number
  default     = 20
}

variable "throttle_burst" {
  type    = number
  default = 40
}

variable "self_sign_up" {
  description = "Let anyone create an account (off: an administrator invites users)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "log_retention_days" {
  type = number
}

variable "manage_account_logging" {
  description = "Set API Gateway's account-wide CloudWatch Logs role (needed for WebSocket access logs). False where another stack owns that setting."
  type        = bool
  default     = true
}

variable "function_alias" {
  description = "The alias the integrations invoke; the invoke permissions are on it."
  type        = string
}

variable "app_urls" {
  description = "The web app's addresses: where managed login sends a user back after sign-in and sign-out."
  type        = list(string)
  default     = []
}
