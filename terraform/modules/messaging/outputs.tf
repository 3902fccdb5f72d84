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

output "alarm_topic_arn" {
  value = aws_sns_topic.alarms.arn
}
