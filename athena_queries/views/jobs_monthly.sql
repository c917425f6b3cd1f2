-- jobs_monthly: job usage per UTC month (its first day) of the end time, site, resource, VO,
-- project, queue, application and commercial flag. A job counts whole in the month it ended (APEL
-- convention), even when it started the month before. Hours are sums of seconds / 3600; the
-- normalised columns sum only jobs with a known benchmark (NULL when none is), and
-- unnormalised_core_hours shows the rest. cpu_efficiency = CPU time / (wall time x cores);
-- wait = start_time - submit_time.
-- The metrics are defined once, in jobs_usage; this is its 'month' grain.
CREATE OR REPLACE VIEW jobs_monthly AS
SELECT
  site, resource, vo, project, queue, application, commercial,
  period_start AS month,
  jobs, wall_hours, cpu_hours, core_hours, normalised_core_hours_hepscore23,
  normalised_core_hours_hs06, normalised_core_hours, unnormalised_core_hours, gpu_hours,
  cpu_efficiency, wait_hours, mean_wait_seconds
FROM jobs_usage
WHERE grain = 'month'
