output "group_name" {
  value = aws_scheduler_schedule_group.reminders.name
}

output "role_arn" {
  value = aws_iam_role.scheduler.arn
}

output "dlq_arn" {
  value = aws_sqs_queue.reminders_dlq.arn
}

output "dlq_name" {
  value = aws_sqs_queue.reminders_dlq.name
}

output "undelivered_name" {
  value = aws_sqs_queue.reminders_undelivered.name
}
