-- cost_per_normalised_hour: what one normalised core-hour cost on each commercial cloud, per
-- provider, month and billing currency (amounts in different currencies are never added), so an
-- analyst can ask which cloud delivered the cheapest HEPscore23-hour.
--
-- Only instance-days both billed and measured count (billed_vs_measured with presence 'both'):
-- the cost is the effective (amortised) cost of their instance-hours, the normalised hours are
-- the measured vCPU-hours times the benchmark per core (vms_instance_days). A day with no known
-- HEPscore23 benchmark adds its cost to cost_without_hepscore23 and nothing to the ratio.
-- month is a DATE (the first of the month) on both engines (DuckDB's date_trunc gives a timestamp).
CREATE OR REPLACE VIEW cost_per_normalised_hour AS
SELECT
  provider,
  CAST(date_trunc('month', day) AS DATE) AS month,
  currency,
  count(*) AS instance_days,
  sum(billed_hours) AS billed_hours,
  sum(measured_hours) AS measured_hours,
  sum(vcpu_hours) AS vcpu_hours,
  sum(effective_cost) AS effective_cost,
  sum(normalised_hours_hepscore23) AS hepscore23_hours,
  sum(normalised_hours_hs06) AS hs06_hours,
  sum(CASE WHEN normalised_hours_hepscore23 IS NULL THEN effective_cost END) AS cost_without_hepscore23,
  CAST(sum(CASE WHEN normalised_hours_hepscore23 > 0 THEN effective_cost END) AS DOUBLE)
    / nullif(sum(normalised_hours_hepscore23), 0) AS cost_per_hepscore23_hour,
  CAST(sum(CASE WHEN normalised_hours_hs06 > 0 THEN effective_cost END) AS DOUBLE)
    / nullif(sum(normalised_hours_hs06), 0) AS cost_per_hs06_hour,
  CAST(sum(effective_cost) AS DOUBLE) / nullif(sum(vcpu_hours), 0) AS cost_per_vcpu_hour
FROM billed_vs_measured
WHERE presence = 'both'
GROUP BY provider, CAST(date_trunc('month', day) AS DATE), currency
