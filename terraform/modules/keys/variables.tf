variable "global_prefix" {
  description = "Names that are global to the account or to AWS (IAM roles, buckets, CloudFront, budgets): the prefix with the region, so two regions of one account do not collide."
  type        = string
}

variable "prefix" {
  description = "Name prefix of every resource (jarvis-<env>)."
  type        = string
}

variable "deletion_window_days" {
  description = "Days a scheduled key deletion can still be cancelled."
  type        = number
  default     = 30
}
