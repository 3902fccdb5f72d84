output "api_url" {
  value = aws_apigatewayv2_api.http.api_endpoint
}

output "websocket_url" {
  value = "${aws_apigatewayv2_api.ws.api_endpoint}/${aws_apigatewayv2_stage.ws.name}"
}

output "http_api_id" {
  value = aws_apigatewayv2_api.http.id
}

output "user_pool_id" {
  value = aws_cognito_user_pool.users.id
}

output "user_pool_client_id" {
  value = aws_cognito_user_pool_client.app.id
}

output "websocket_execution_arn" {
  value = aws_apigatewayv2_api.ws.execution_arn
}

output "issuer" {
  description = "The user pool's token issuer."
  value       = local.issuer
}

output "websocket_origin" {
  description = "The WebSocket API's origin (wss://…), for the web app's Content-Security-Policy."
  value       = aws_apigatewayv2_api.ws.api_endpoint
}

output "login_url" {
  description = "Managed login's base address (its /oauth2/authorize, /oauth2/token and /logout)."
  value       = "https://${aws_cognito_user_pool_domain.login.domain}.auth.${var.region}.amazoncognito.com"
}
