variable "prefix" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "deletion_protection" {
  description = "Refuse to delete the table (staging and prod)."
  type        = bool
  default     = true
}
