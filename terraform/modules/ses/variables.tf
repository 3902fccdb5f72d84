variable "enabled" {
  description = "Receive mail (SES inbound into the raw bucket)."
  type        = bool
  default     = false
}

variable "sending" {
  description = "Send mail from the domain (the SES identity), whether or not mail is received."
  type        = bool
  default     = false
}

variable "prefix" {
  type = string
}

variable "domain" {
  description = "The mail domain (MX → inbound-smtp.<region>.amazonaws.com)."
  type        = string
  default     = ""
}

variable "mailboxes" {
  description = "Recipient address → tenant id (the Cognito `sub`) whose raw folder receives it."
  type        = map(string)
  default     = {}
}

variable "raw_bucket" {
  type = string
}

variable "inbound_mail_prefix" {
  type = string
}

variable "activate_rule_set" {
  description = "Make the receipt rule set the region's active one (replaces any other active set)."
  type        = bool
  default     = false
}
