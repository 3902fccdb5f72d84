output "identity_arn" {
  description = "The sending identity, or null when SES is off."
  value       = local.identity ? aws_sesv2_email_identity.domain[0].arn : null
}

output "dns_records" {
  description = "The records to add to the domain's DNS: DKIM CNAMEs (verify the identity for sending) and, when receiving, the MX."
  value = concat(
    local.identity ? [
      for token in aws_sesv2_email_identity.domain[0].dkim_signing_attributes[0].tokens :
      "${token}._domainkey.${var.domain} CNAME ${token}.dkim.amazonses.com"
    ] : [],
    var.enabled ? ["${var.domain} MX 10 inbound-smtp.${data.aws_region.current.region}.amazonaws.com"] : [],
  )
}
