env    = "dev"
region = "eu-west-1"

settings = {
  timezone            = "Europe/Berlin"
  log_retention_days  = 365
  log_level           = "info,jarvis=debug"
  reserve_concurrency = false # new accounts have a 10-execution pool
  force_destroy       = true  # destroy-dev removes the buckets with their objects
  deletion_protection = false
  self_sign_up        = true
  api_throttle_rate   = 10
  api_throttle_burst  = 20
  monthly_budget_usd  = 250
}
