-- cloud_cost_by_project: commercial-cloud cost per project, month, provider and billing currency
-- (cloud_cost_attributed; amounts in different currencies are never added), with how much of it
-- was attributed by tag or by a measured VM (the rest is project 'untagged'), and how many of its
-- instances Tally measured.
CREATE OR REPLACE VIEW cloud_cost_by_project AS
SELECT
  project,
  CAST(date_trunc('month', charge_period_start) AS DATE) AS month,
  provider,
  currency,
  count(*) AS lines,
  sum(billed_cost) AS billed_cost,
  sum(effective_cost) AS effective_cost,
  sum(CASE WHEN attribution = 'tag' THEN billed_cost END) AS billed_cost_by_tag,
  sum(CASE WHEN attribution = 'vm' THEN billed_cost END) AS billed_cost_by_vm,
  count(DISTINCT CASE WHEN measured THEN instance_key END) AS measured_instances
FROM cloud_cost_attributed
GROUP BY project, CAST(date_trunc('month', charge_period_start) AS DATE), provider, currency
