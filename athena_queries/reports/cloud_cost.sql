-- The rows the cloud_cost report aggregates: one per commercial-cloud bill line, attributed to a
-- project (cloud_cost_attributed). The report always groups by currency: money in two
-- currencies is never added.
SELECT
  project, provider, account, currency, service_name, attribution, site, instance_key,
  charge_category, billed_cost, effective_cost,
  charge_period_start AS event_time, billing_period AS dt
FROM cloud_cost_attributed
