output "ingest_queue_arn" {
  value = aws_sqs_queue.ingest.arn
}

output "ingest_queue_url" {
  value = aws_sqs_queue.ingest.id
}

output "ingest_queue_name" {
  value = aws_sqs_queue.ingest.name
}

output "ingest_dlq_name" {
  value = aws_sqs_queue.ingest_dlq.name
}

output "reminder_topic_arn" {
  value = aws_sns_topic.reminders.arn
}

# Read from the topic policy, so what subscribes the topic (budget
# notifications, the cost anomaly subscription, alarms) waits for the policy
# that lets those services publish: AWS Budgets and Cost Anomaly Detection
# test-publish when the subscription is created, and fail without it.
output "alarm_topic_arn" {
  value = aws_sns_topic_policy.alarms.arn
}
