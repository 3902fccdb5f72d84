# Alarms (to the alarm topic) on: ingest and reminder dead-letter depth, each function's
# errors and throttles, failed pipeline executions, API 5xx and p99 latency.
# And one dashboard with the same signals.

locals {
  alarm_actions = [var.alarm_topic_arn]
}

locals {
  # Dead-letter queues whose depth means something was given up on.
  dead_letters = {
    ingest    = { queue = var.dlq_name, says = "Objects that could not be routed after every retry are waiting in the dead-letter queue." }
    reminders = { queue = var.reminder_dlq_name, says = "A reminder could not be delivered: Scheduler gave up after every retry, and firing it late from the dead-letter queue failed five times; it waits in the undelivered queue." }
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each            = local.dead_letters
  alarm_name          = "${var.prefix}-${each.key}-dlq-not-empty"
  alarm_description   = each.value.says
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The ingest alarm was a single resource before the reminders queue joined it.
moved {
  from = aws_cloudwatch_metric_alarm.dlq_depth
  to   = aws_cloudwatch_metric_alarm.dlq_depth["ingest"]
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each            = var.function_names
  alarm_name          = "${var.prefix}-${each.key}-errors"
  alarm_description   = "${each.key} returned errors (a handler failure, not a 4xx answer)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.function_error_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each            = var.function_names
  alarm_name          = "${var.prefix}-${each.key}-throttles"
  alarm_description   = "${each.key} was throttled (reserved or account concurrency reached)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

# A function whose slowest runs near its timeout is about to start failing.
resource "aws_cloudwatch_metric_alarm" "function_duration" {
  for_each            = var.function_names
  alarm_name          = "${var.prefix}-${each.key}-duration"
  alarm_description   = "${each.key}'s p99 duration is above 80% of its ${var.function_timeouts[each.key]} s timeout."
  namespace           = "AWS/Lambda"
  metric_name         = "Duration"
  dimensions          = { FunctionName = each.value }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.function_timeouts[each.key] * 1000 * 0.8
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

# On-demand DynamoDB still throttles a partition pushed past its limits.
resource "aws_cloudwatch_metric_alarm" "table_throttles" {
  alarm_name          = "${var.prefix}-table-throttled"
  alarm_description   = "DynamoDB throttled requests to the table (a hot partition, or the account's table limits)."
  namespace           = "AWS/DynamoDB"
  metric_name         = "ThrottledRequests"
  dimensions          = { TableName = var.table_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  alarm_name          = "${var.prefix}-pipeline-failed"
  alarm_description   = "Documents failed ingestion (each is marked failed with its reason)."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = var.state_machine_arn }
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = var.failed_execution_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.prefix}-api-5xx"
  alarm_description   = "The HTTP API answered 5xx."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.http_api_id, Stage = "$default" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_latency" {
  alarm_name          = "${var.prefix}-api-latency-p99"
  alarm_description   = "p99 latency of the HTTP API is above ${var.latency_p99_ms} ms."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiId = var.http_api_id, Stage = "$default" }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.latency_p99_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
}

locals {
  # The functions that answer chat turns (their invocations are the turns).
  chat_functions    = ["api-chat", "chat-stream"]
  metrics_namespace = "Jarvis"
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = var.prefix
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "API requests, 5xx, p99 latency"
          region = var.region
          metrics = [
            ["AWS/ApiGateway", "Count", "ApiId", var.http_api_id, "Stage", "$default", { stat = "Sum" }],
            [".", "5xx", ".", ".", ".", ".", { stat = "Sum" }],
            [".", "Latency", ".", ".", ".", ".", { stat = "p99", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Pipeline executions"
          region = var.region
          metrics = [
            ["AWS/States", "ExecutionsStarted", "StateMachineArn", var.state_machine_arn, { stat = "Sum" }],
            [".", "ExecutionsSucceeded", ".", ".", { stat = "Sum" }],
            [".", "ExecutionsFailed", ".", ".", { stat = "Sum" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Function errors"
          region  = var.region
          metrics = [for name, fn in var.function_names : ["AWS/Lambda", "Errors", "FunctionName", fn, { stat = "Sum", label = name }]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Function p99 duration"
          region  = var.region
          metrics = [for name, fn in var.function_names : ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = "p99", label = name }]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "Ingestion: files waiting, dead letters, runs started and failed"
          region = var.region
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
            [".", ".", ".", var.dlq_name],
            ["AWS/States", "ExecutionsStarted", "StateMachineArn", var.state_machine_arn, { stat = "Sum", yAxis = "right" }],
            [".", "ExecutionsFailed", ".", ".", { stat = "Sum", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "Chat: turns and p90 turn time (ms)"
          region = var.region
          metrics = concat(
            [for name, fn in var.function_names : ["AWS/Lambda", "Invocations", "FunctionName", fn, { stat = "Sum", label = "${name} turns" }] if contains(local.chat_functions, name)],
            [for name, fn in var.function_names : ["AWS/Lambda", "Duration", "FunctionName", fn, { stat = "p90", label = "${name} p90", yAxis = "right" }] if contains(local.chat_functions, name)],
          )
        }
      },
      {
        # The adapters' EMF metrics (jarvis-aws metrics.rs), every function and model.
        type = "metric", x = 0, y = 18, width = 12, height = 6
        properties = {
          title  = "Model tokens by function and model"
          region = var.region
          stat   = "Sum"
          metrics = [
            [{ id = "input", expression = "SEARCH('{${local.metrics_namespace},Function,Model} MetricName=\"InputTokens\"', 'Sum', 300)", label = "in" }],
            [{ id = "output", expression = "SEARCH('{${local.metrics_namespace},Function,Model} MetricName=\"OutputTokens\"', 'Sum', 300)", label = "out" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 18, width = 12, height = 6
        properties = {
          title  = "Model latency p90 (ms) by function and model"
          region = var.region
          metrics = [
            [{ id = "latency", expression = "SEARCH('{${local.metrics_namespace},Function,Model} MetricName=\"ModelLatency\"', 'p90', 300)" }],
          ]
        }
      },
      {
        # Tokens × the per-1,000-token prices below (on-demand list prices; set
        # model_prices_usd_per_1k to yours), per hour.
        type = "metric", x = 0, y = 24, width = 12, height = 6
        properties = {
          title  = "Bedrock cost from tokens (USD per hour, estimated)"
          region = var.region
          period = 3600
          metrics = [
            [{ id = "chat_in", expression = "SUM(SEARCH('{${local.metrics_namespace},Function,Model} MetricName=\"InputTokens\" Model=\"${var.chat_model_id}\"', 'Sum', 3600))", visible = false }],
            [{ id = "chat_out", expression = "SUM(SEARCH('{${local.metrics_namespace},Function,Model} MetricName=\"OutputTokens\" Model=\"${var.chat_model_id}\"', 'Sum', 3600))", visible = false }],
            [{ id = "embed_in", expression = "SUM(SEARCH('{${local.metrics_namespace},Function,Model} MetricName=\"InputTokens\" Model=\"${var.embed_model_id}\"', 'Sum', 3600))", visible = false }],
            [{ id = "chat_cost", expression = "FILL(chat_in, 0) * ${var.model_prices_usd_per_1k.chat_input} / 1000 + FILL(chat_out, 0) * ${var.model_prices_usd_per_1k.chat_output} / 1000", label = "chat" }],
            [{ id = "embed_cost", expression = "FILL(embed_in, 0) * ${var.model_prices_usd_per_1k.embed_input} / 1000", label = "embeddings" }],
          ]
        }
      },
      {
        # AWS publishes the account's estimated bill in us-east-1 only, once
        # "Receive Billing Alerts" is on (Billing preferences).
        type = "metric", x = 12, y = 24, width = 12, height = 6
        properties = {
          title  = "Account estimated charges this month (USD; fixed floor: see docs/operations.md)"
          region = "us-east-1"
          metrics = [
            ["AWS/Billing", "EstimatedCharges", "Currency", "USD", { stat = "Maximum", period = 21600 }],
          ]
          annotations = {
            horizontal = [{ label = "monthly budget", value = var.monthly_budget_usd }]
          }
        }
      },
    ]
  })
}

# Cost: a monthly budget for the account this environment runs in, alerting
# the alarm topic at 80% and 100% of actual spend and at 100% forecast; and,
# when turned on, cost anomaly alerts on AWS services.
resource "aws_budgets_budget" "monthly" {
  name         = "${var.global_prefix}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  dynamic "notification" {
    for_each = {
      actual80    = { threshold = 80, type = "ACTUAL" }
      actual100   = { threshold = 100, type = "ACTUAL" }
      forecast100 = { threshold = 100, type = "FORECASTED" }
    }
    content {
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value.threshold
      threshold_type            = "PERCENTAGE"
      notification_type         = notification.value.type
      subscriber_sns_topic_arns = [var.alarm_topic_arn]
    }
  }
}

# An account holds one AWS-services (DIMENSIONAL/SERVICE) monitor, and AWS
# creates Default-Services-Monitor itself in most accounts: a second one fails
# with "Limit exceeded on dimensional spend monitor creation". So the
# subscription takes an existing monitor's ARN, and the monitor is created only
# when none is given.
resource "aws_ce_anomaly_monitor" "services" {
  count             = var.cost_anomaly_detection && var.cost_anomaly_monitor_arn == "" ? 1 : 0
  name              = "${var.global_prefix}-services"
  monitor_type      = "DIMENSIONAL"
  monitor_dimension = "SERVICE"
}

resource "aws_ce_anomaly_subscription" "alarms" {
  count            = var.cost_anomaly_detection ? 1 : 0
  name             = "${var.global_prefix}-cost-anomalies"
  frequency        = "IMMEDIATE"
  monitor_arn_list = [var.cost_anomaly_monitor_arn != "" ? var.cost_anomaly_monitor_arn : aws_ce_anomaly_monitor.services[0].arn]

  subscriber {
    type    = "SNS"
    address = var.alarm_topic_arn
  }

  threshold_expression {
    dimension {
      key           = "ANOMALY_TOTAL_IMPACT_ABSOLUTE"
      match_options = ["GREATER_THAN_OR_EQUAL"]
      values        = [tostring(var.anomaly_threshold_usd)]
    }
  }
}

# Saved Logs Insights queries (CloudWatch → Logs Insights → Saved queries).
# The functions log JSON: an event's fields at the top level, its span's
# (tenant, document) under `span`; Lambda's own lines are platform.* records.
resource "aws_cloudwatch_query_definition" "document_failed" {
  name            = "${var.prefix}/why-did-this-document-fail"
  log_group_names = values(var.log_group_names)
  query_string    = <<-EOT
    fields @timestamp, @log, level, message, error, span.document
    | filter span.document = "doc_PUT_THE_ID_HERE" or document = "doc_PUT_THE_ID_HERE"
    | sort @timestamp asc
    | limit 200
  EOT
}

resource "aws_cloudwatch_query_definition" "slowest_turns" {
  name            = "${var.prefix}/slowest-chat-turns"
  log_group_names = [for name in ["api-chat", "chat-stream"] : var.log_group_names[name]]
  query_string    = <<-EOT
    filter type = "platform.report"
    | fields @timestamp, @log, record.requestId, record.metrics.durationMs
    | sort record.metrics.durationMs desc
    | limit 20
  EOT
}
