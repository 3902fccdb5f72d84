variable "prefix" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "raw_bucket" {
  type = string
}

variable "router_timeout_seconds" {
  description = "pipeline-router's timeout; the queue's visibility timeout is six times it."
  type        = number
}

variable "max_receive_count" {
  description = "Deliveries of one message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "reminder_subscriptions" {
  description = "Tenant (Cognito sub) => address its reminders are mailed to, filtered to that tenant; users can also set their own with PUT /me/notifications."
  type        = map(string)
  default     = {}
}

variable "alarm_emails" {
  description = "Addresses subscribed to alarms."
  type        = list(string)
  default     = []
}
