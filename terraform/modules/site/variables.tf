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

variable "region" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "log_bucket" {
  description = "The bucket receiving the site bucket's access logs."
  type        = string
}

variable "force_destroy" {
  type    = bool
  default = false
}

variable "web_dir" {
  description = "The web app's folder (the repository's web/), uploaded as it is."
  type        = string
}

variable "api_url" {
  description = "The HTTP API's invoke URL; CloudFront serves it on the app's own origin."
  type        = string
}

variable "api_routes" {
  description = "HTTP route keys (\"GET /search\"…): their first path segments go to the API."
  type        = list(string)
}

variable "websocket_url" {
  type = string
}

variable "websocket_origin" {
  type = string
}

variable "upload_bucket" {
  description = "The raw bucket browsers PUT pre-signed uploads into."
  type        = string
}

variable "login_url" {
  description = "Managed login's base address."
  type        = string
}

variable "issuer" {
  type = string
}

variable "client_id" {
  type = string
}

variable "domain_name" {
  description = "Serve the app at this name (a CNAME to the distribution); empty: the distribution's own cloudfront.net name."
  type        = string
  default     = ""
}

variable "certificate_arn" {
  description = "An ACM certificate in us-east-1 for domain_name."
  type        = string
  default     = ""
}

variable "price_class" {
  description = "CloudFront price class: PriceClass_100 (North America, Europe), _200, or _All."
  type        = string
  default     = "PriceClass_100"
}
