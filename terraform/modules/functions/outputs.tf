output "function_arns" {
  description = "Each function's `live` alias: what every caller invokes."
  value       = { for name, a in aws_lambda_alias.live : name => a.arn }
}

output "invoke_arns" {
  description = "What API Gateway integrations and authorizers call (the `live` alias)."
  value       = { for name, a in aws_lambda_alias.live : name => a.invoke_arn }
}

output "alias" {
  description = "The alias name callers invoke (the permissions' qualifier)."
  value       = local.alias
}

output "function_names" {
  value = { for name, f in aws_lambda_function.function : name => f.function_name }
}

output "role_arns" {
  value = { for name, r in aws_iam_role.function : name => r.arn }
}

output "routes" {
  description = "HTTP API route key → function name."
  value       = local.routes
}

output "log_group_names" {
  value = { for name, g in aws_cloudwatch_log_group.function : name => g.name }
}

output "collection_principals" {
  description = "Roles of the functions whose code calls OpenSearch (the data-access policy's principals)."
  value = [
    for name, f in local.functions : aws_iam_role.function[name].arn
    if contains(flatten([for s in f.statements : s.actions]), "aoss:APIAccessAll")
  ]
}

output "reminder_target_arns" {
  description = "Functions reminders invoke (trigger \"reminders\")."
  value       = [for name, f in local.functions : aws_lambda_alias.live[name].arn if f.trigger == "reminders"]
}

output "nightly_function_arns" {
  description = "Functions run every night (trigger \"nightly\")."
  value       = { for name, f in local.functions : name => aws_lambda_alias.live[name].arn if f.trigger == "nightly" }
}

output "websocket_function" {
  description = "The function serving the WebSocket API (trigger \"websocket\"), or null."
  value       = one([for name, f in local.functions : name if f.trigger == "websocket"])
}

output "websocket_authorizer" {
  description = "The function authorizing WebSocket connections (trigger \"websocket_authorizer\"), or null."
  value       = one([for name, f in local.functions : name if f.trigger == "websocket_authorizer"])
}

output "timeouts" {
  description = "Function crate name → its timeout in seconds (the duration alarms' bound)."
  value       = { for name, f in aws_lambda_function.function : name => f.timeout }
}
