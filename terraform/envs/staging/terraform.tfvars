env    = "staging"
region = "eu-west-1"

settings = {
  timezone            = "Europe/Berlin"
  reserve_concurrency = false # on once the concurrency quota is >= 171 (make preflight-staging)
  deletion_protection = true
  api_throttle_rate   = 20
  api_throttle_burst  = 40
  monthly_budget_usd  = 400
}
