variable "global_prefix" {
  description = "Names that are global to the account or to AWS (IAM roles, buckets, CloudFront, budgets): the prefix with the region, so two regions of one account do not collide."
  type        = string
}

variable "prefix" {
  type = string
}

variable "account_id" {
  description = "Bucket names carry the account id: S3 names are global."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}


variable "access_log_days" {
  type    = number
  default = 365
}

variable "allow_ses_inbound" {
  description = "Let SES receipt rules write inbound mail into the raw bucket."
  type        = bool
  default     = false
}

variable "inbound_mail_prefix" {
  description = "Folder under each tenant SES writes inbound mail to: <tenant>/<prefix><message id>."
  type        = string
  default     = "inbound-mail/"
}

variable "upload_origins" {
  description = "Web origins allowed to PUT with pre-signed URLs."
  type        = list(string)
  default     = []
}
