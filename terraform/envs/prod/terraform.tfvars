env    = "prod"
region = "eu-west-1"

settings = {
  timezone                = "Europe/Berlin"
  search_standby_replicas = true
  reserve_concurrency     = false # on once the concurrency quota is >= 171 (make preflight-prod)
  deletion_protection     = true
  api_throttle_rate       = 50
  api_throttle_burst      = 100
  alarm_emails            = []
  monthly_budget_usd      = 800
}
