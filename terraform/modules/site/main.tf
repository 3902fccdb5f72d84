# The web app: web/ in a private, SSE-KMS bucket that only this distribution
# reads (origin access control), served over HTTPS with a strict
# response-headers policy. The HTTP API is served by the same distribution on
# the same origin (its paths go to API Gateway, uncached), so the app needs no
# CORS and its Content-Security-Policy names only what it must: the WebSocket
# API, the raw bucket for pre-signed uploads, and managed login's token
# endpoint. config.json is written here from the stack's outputs.

data "aws_partition" "current" {}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

# Every viewer header but Host (API Gateway routes on its own host name),
# every query string and cookie. With caching disabled this forwards the
# Authorization header too.
data "aws_cloudfront_origin_request_policy" "all_but_host" {
  name = "Managed-AllViewerExceptHostHeader"
}

locals {
  url = var.domain_name != "" ? "https://${var.domain_name}" : "https://${aws_cloudfront_distribution.site.domain_name}"

  # "/search", "/documents", "/me"… from the route keys.
  api_prefixes = sort(distinct([for k in var.api_routes : "/${split("/", split(" ", k)[1])[1]}"]))

  # The runtime's policy (runtime/src/web.rs CONTENT_SECURITY_POLICY), with
  # connect-src naming the origins the app reaches besides its own.
  connect = join(" ", [
    "'self'",
    var.websocket_origin,
    "https://${var.upload_bucket}.s3.${var.region}.amazonaws.com",
    var.login_url,
  ])
  csp = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src ${local.connect}",
    "frame-src 'self' blob:",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])

  # What the app reads at start: the same keys the local runtime's
  # GET /config.json answers, with Cognito's managed login.
  config = {
    api_url = ""
    ws_url  = var.websocket_url
    auth = {
      mode                   = "cognito"
      issuer                 = var.issuer
      client_id              = var.client_id
      domain                 = var.login_url
      authorization_endpoint = "${var.login_url}/oauth2/authorize"
      token_endpoint         = "${var.login_url}/oauth2/token"
      revocation_endpoint    = "${var.login_url}/oauth2/revoke"
      redirect_uri           = "${local.url}/"
      logout_uri             = "${local.url}/"
      scope                  = "openid email"
    }
  }

  content_types = {
    html        = "text/html; charset=utf-8"
    css         = "text/css; charset=utf-8"
    js          = "text/javascript; charset=utf-8"
    mjs         = "text/javascript; charset=utf-8"
    json        = "application/json"
    svg         = "image/svg+xml"
    png         = "image/png"
    webmanifest = "application/manifest+json"
  }
  files = fileset(var.web_dir, "**")
}

data "aws_iam_policy_document" "cloudfront_reads" {
  statement {
    sid       = "CloudFrontReadsTheApp"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.site.arn]
    }
  }
}

module "bucket" {
  source            = "../bucket"
  name              = "${var.global_prefix}-site-${var.account_id}"
  kms_key_arn       = var.kms_key_arn
  log_bucket        = var.log_bucket
  force_destroy     = var.force_destroy
  extra_policy_json = data.aws_iam_policy_document.cloudfront_reads.json
}

# The files, as they are in web/. Every response is revalidated (no-cache:
# ETag, then 304), so a release is seen on the next load, never half of it.
resource "aws_s3_object" "file" {
  for_each      = local.files
  bucket        = module.bucket.id
  key           = each.value
  source        = "${var.web_dir}/${each.value}"
  source_hash   = filemd5("${var.web_dir}/${each.value}")
  content_type  = lookup(local.content_types, reverse(split(".", each.value))[0], "application/octet-stream")
  cache_control = "no-cache"
  kms_key_id    = var.kms_key_arn
}

resource "aws_s3_object" "config" {
  bucket        = module.bucket.id
  key           = "config.json"
  content       = jsonencode(local.config)
  content_type  = "application/json"
  cache_control = "no-cache"
  kms_key_id    = var.kms_key_arn
}

resource "aws_cloudfront_origin_access_control" "site" {
  name                              = "${var.global_prefix}-site"
  description                       = "CloudFront signs its reads of the web app's bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "site" {
  name    = "${var.global_prefix}-site"
  comment = "Jarvis: strict CSP, HSTS, no framing, no sniffing, no referrer."
  security_headers_config {
    content_security_policy {
      content_security_policy = local.csp
      override                = true
    }
    strict_transport_security {
      access_control_max_age_sec = 63072000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    content_type_options {
      override = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

# SPA routing: a path that names no file (/, /chat, /?code=… from managed
# login) is the app; a missing file stays a 404 (no error page turned 200).
resource "aws_cloudfront_function" "app" {
  name    = "${var.global_prefix}-app"
  runtime = "cloudfront-js-2.0"
  comment = "Paths without a file extension are the app (index.html)."
  publish = true
  code    = file("${path.module}/app-route.js")
}

resource "aws_cloudfront_distribution" "site" {
  #checkov:skip=CKV_AWS_68:The distribution serves public static files and forwards API calls to API Gateway, whose JWT authorizer and throttling guard every route; a WAF web ACL costs more per month than a personal deployment.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68); no Java (log4j) runs behind this distribution.
  #checkov:skip=CKV_AWS_86:Standard logs need ACLs on the log bucket, which is owner-enforced; API calls are access-logged by API Gateway, and the bucket by S3 access logging.
  #checkov:skip=CKV_AWS_310:One origin per path; a failover origin for a static bucket in one region would add nothing.
  #checkov:skip=CKV_AWS_374:A personal assistant is used wherever its owner travels.
  #checkov:skip=CKV_AWS_174:TLS 1.2 is the minimum whenever a certificate is given (domain_name); the cloudfront.net default certificate cannot set one.
  #checkov:skip=CKV2_AWS_42:A custom certificate is used when domain_name is set; the default one otherwise.
  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  comment             = "${var.prefix}: the web app and its API"
  default_root_object = "index.html"
  price_class         = var.price_class
  aliases             = var.domain_name != "" ? [var.domain_name] : []

  origin {
    origin_id                = "site"
    domain_name              = module.bucket.regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
  }

  origin {
    origin_id   = "api"
    domain_name = split("/", var.api_url)[2]
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id           = "site"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.site.id
    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.app.arn
    }
  }

  dynamic "ordered_cache_behavior" {
    for_each = local.api_prefixes
    content {
      path_pattern               = "${ordered_cache_behavior.value}*"
      target_origin_id           = "api"
      viewer_protocol_policy     = "https-only"
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
      origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_but_host.id
      response_headers_policy_id = aws_cloudfront_response_headers_policy.site.id
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == ""
    acm_certificate_arn            = var.certificate_arn == "" ? null : var.certificate_arn
    ssl_support_method             = var.certificate_arn == "" ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == "" ? "TLSv1" : "TLSv1.2_2021"
  }
}
