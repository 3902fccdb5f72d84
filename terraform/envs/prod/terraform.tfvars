env    = "prod"
region = "eu-west-1"

settings = {
  timezone                = "Europe/Berlin"
  search_standby_replicas = true
  reserve_concurrency     = true
  deletion_protection     = true
  api_throttle_rate       = 50
  api_throttle_burst      = 100
  alarm_emails            = []
  monthly_budget_usd      = 800
}
