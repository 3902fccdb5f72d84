variable "prefix" {
  description = "Name prefix of every resource (jarvis-<env>)."
  type        = string
}

variable "deletion_window_days" {
  description = "Days a scheduled key deletion can still be cancelled."
  type        = number
  default     = 30
}
