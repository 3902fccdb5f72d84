output "group_name" {
  value = aws_scheduler_schedule_group.reminders.name
}

output "role_arn" {
  value = aws_iam_role.scheduler.arn
}
