# Identity (Cognito user pool + app client), the HTTP API with a JWT authorizer,
# throttling and access logs, and the WebSocket API for streamed chat.

resource "aws_cognito_user_pool" "users" {
  name                     = "${var.prefix}-users"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 3
  }

  admin_create_user_config {
    allow_admin_create_user_only = !var.self_sign_up
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_client" "app" {
  name                          = "${var.prefix}-app"
  user_pool_id                  = aws_cognito_user_pool.users.id
  generate_secret               = false
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  access_token_validity         = 60
  id_token_validity             = 60
  refresh_token_validity        = 30
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  # The web app signs in through managed login: authorization code + PKCE
  # (no client secret in a browser), back to the app's own address only.
  allowed_oauth_flows_user_pool_client = length(var.app_urls) > 0
  allowed_oauth_flows                  = length(var.app_urls) > 0 ? ["code"] : []
  allowed_oauth_scopes                 = length(var.app_urls) > 0 ? ["openid", "email"] : []
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = var.app_urls
  logout_urls                          = var.app_urls
}

# Managed login lives on a Cognito domain whose prefix is global within the
# region, so it carries the account and the region: two deployments never
# race for one name.
data "aws_caller_identity" "current" {}

resource "aws_cognito_user_pool_domain" "login" {
  domain                = "${var.prefix}-${data.aws_caller_identity.current.account_id}-${var.region}"
  user_pool_id          = aws_cognito_user_pool.users.id
  managed_login_version = 2
}

# Managed login (version 2) shows a client's pages only once the client has a
# style; Cognito's own look is enough.
resource "aws_cognito_managed_login_branding" "app" {
  user_pool_id                = aws_cognito_user_pool.users.id
  client_id                   = aws_cognito_user_pool_client.app.id
  use_cognito_provided_values = true
}

locals {
  issuer = "https://cognito-idp.${var.region}.amazonaws.com/${aws_cognito_user_pool.users.id}"
  # Route keys that need no token.
  public_routes = ["GET /healthz"]
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.prefix}-http"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.prefix}-http"
  protocol_type = "HTTP"
  description   = "Jarvis REST API: /search, /documents, /chat, /reminders, /tasks, /emails, /me"
  dynamic "cors_configuration" {
    for_each = length(var.cors_origins) > 0 ? [var.cors_origins] : []
    content {
      allow_origins = cors_configuration.value
      # Every method a deployed route uses (PUT /me/settings, PUT /me/notifications…).
      allow_methods = sort(distinct([for k in keys(var.routes) : split(" ", k)[0]]))
      allow_headers = ["authorization", "content-type", "idempotency-key"]
      max_age       = 3600
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.http.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = local.issuer
    audience = [aws_cognito_user_pool_client.app.id]
  }
}

resource "aws_apigatewayv2_integration" "function" {
  for_each               = toset(values(var.routes))
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.function_arns[each.key]
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "http" {
  for_each           = { for k, f in var.routes : k => f if !contains(local.public_routes, k) }
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.function[each.value].id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:GET /healthz is the liveness check and answers only {status, version}; every other route has the JWT authorizer.
  for_each  = { for k, f in var.routes : k => f if contains(local.public_routes, k) }
  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.function[each.value].id}"
}

resource "aws_apigatewayv2_stage" "http" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttle_burst
    throttling_rate_limit  = var.throttle_rate
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      latency        = "$context.responseLatency"
      integrationErr = "$context.integrationErrorMessage"
      authorizerErr  = "$context.authorizer.error"
      sub            = "$context.authorizer.claims.sub"
    })
  }
}

resource "aws_lambda_permission" "http" {
  for_each      = toset(values(var.routes))
  statement_id  = "http-api"
  action        = "lambda:InvokeFunction"
  function_name = var.function_names[each.key]
  principal     = "apigateway.amazonaws.com"
  qualifier     = var.function_alias
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

# Streamed chat. The routes ($connect, $disconnect, sendMessage, $default) are
# created when a function serves them (`websocket_function`); the API, its
# stage and its access log exist either way so the URL is stable. $connect is
# authorized by `websocket_authorizer` (the user pool token in the query
# string: browsers cannot set headers on a WebSocket); API Gateway hands the
# tenant it finds to every later route of the connection.
resource "aws_cloudwatch_log_group" "ws_access" {
  name              = "/aws/apigateway/${var.prefix}-ws"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_apigatewayv2_api" "ws" {
  name                       = "${var.prefix}-ws"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
  description                = "Jarvis streamed chat: send {\"action\":\"sendMessage\",...}, receive deltas and tool events."
}

locals {
  websocket = var.websocket_function != null && var.websocket_authorizer != null
}

resource "aws_apigatewayv2_authorizer" "ws" {
  count            = local.websocket ? 1 : 0
  api_id           = aws_apigatewayv2_api.ws.id
  name             = "user-pool-token"
  authorizer_type  = "REQUEST"
  authorizer_uri   = var.function_invoke_arns[var.websocket_authorizer]
  identity_sources = ["route.request.querystring.token"]
}

resource "aws_apigatewayv2_integration" "ws" {
  count                     = local.websocket ? 1 : 0
  api_id                    = aws_apigatewayv2_api.ws.id
  integration_type          = "AWS_PROXY"
  integration_method        = "POST"
  integration_uri           = var.function_invoke_arns[var.websocket_function]
  content_handling_strategy = "CONVERT_TO_TEXT"
}

resource "aws_apigatewayv2_route" "ws_connect" {
  count              = local.websocket ? 1 : 0
  api_id             = aws_apigatewayv2_api.ws.id
  route_key          = "$connect"
  target             = "integrations/${aws_apigatewayv2_integration.ws[0].id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.ws[0].id
}

resource "aws_apigatewayv2_route" "ws" {
  #checkov:skip=CKV_AWS_309:API Gateway allows an authorizer on $connect only; these routes run on a connection $connect authorized, with its tenant.
  for_each  = local.websocket ? toset(["$disconnect", "sendMessage", "$default"]) : toset([])
  api_id    = aws_apigatewayv2_api.ws.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.ws[0].id}"
}

# A WebSocket stage writes its access log through the role set in API
# Gateway's account settings (one per account and region). A fresh account has
# none, and the stage then fails to apply with "CloudWatch Logs role ARN must
# be set in account settings". Set manage_account_logging = false where
# another stack already owns that account-wide setting.
data "aws_partition" "current" {}

data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  count              = var.manage_account_logging ? 1 : 0
  name               = "${var.global_prefix}-apigateway-logs"
  description        = "Assumed by API Gateway (account settings) to write access and execution logs to CloudWatch."
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  count      = var.manage_account_logging ? 1 : 0
  role       = aws_iam_role.apigateway_logs[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count               = var.manage_account_logging ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn
  depends_on          = [aws_iam_role_policy_attachment.apigateway_logs]
}

resource "aws_apigatewayv2_stage" "ws" {
  #checkov:skip=CKV2_AWS_51:Client certificates are for REST APIs calling backends; this WebSocket API invokes Lambda with IAM.
  depends_on  = [aws_api_gateway_account.this]
  api_id      = aws_apigatewayv2_api.ws.id
  name        = "live"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttle_burst
    throttling_rate_limit  = var.throttle_rate
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.ws_access.arn
    format = jsonencode({
      requestId    = "$context.requestId"
      connectionId = "$context.connectionId"
      eventType    = "$context.eventType"
      routeKey     = "$context.routeKey"
      status       = "$context.status"
      requestTime  = "$context.requestTime"
    })
  }
}

resource "aws_lambda_permission" "ws" {
  count         = local.websocket ? 1 : 0
  statement_id  = "websocket-api"
  action        = "lambda:InvokeFunction"
  function_name = var.function_names[var.websocket_function]
  principal     = "apigateway.amazonaws.com"
  qualifier     = var.function_alias
  source_arn    = "${aws_apigatewayv2_api.ws.execution_arn}/*/*"
}

resource "aws_lambda_permission" "ws_authorizer" {
  count         = local.websocket ? 1 : 0
  statement_id  = "websocket-authorizer"
  action        = "lambda:InvokeFunction"
  function_name = var.function_names[var.websocket_authorizer]
  principal     = "apigateway.amazonaws.com"
  qualifier     = var.function_alias
  source_arn    = "${aws_apigatewayv2_api.ws.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.ws[0].id}"
}
