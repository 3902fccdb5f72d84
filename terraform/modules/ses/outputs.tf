output "identity_arn" {
  description = "The sending identity, or null when SES is off."
  value       = var.enabled ? aws_sesv2_email_identity.domain[0].arn : null
}
