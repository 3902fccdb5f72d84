variable "prefix" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "index_name" {
  description = "The chunk index (and its template)."
  type        = string
}

variable "principal_arns" {
  description = "Roles allowed to use the index: the functions that search or write it."
  type        = list(string)
}

variable "standby_replicas" {
  description = "Standby replicas across zones (prod); off halves the minimum OCUs."
  type        = bool
  default     = false
}
