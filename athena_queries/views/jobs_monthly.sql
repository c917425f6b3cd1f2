-- jobs_monthly: job usage per UTC month (its first day) of the end time, site, resource, VO, project, queue,
-- application and commercial flag. A job counts whole in the month it ended (APEL convention), even
-- when it started the month before. Hours are sums of seconds / 3600; the normalised columns sum
-- only jobs with a known benchmark (NULL when none is), and unnormalised_core_hours shows the rest.
-- cpu_efficiency = CPU time / (wall time x cores); wait = start_time - submit_time.
CREATE OR REPLACE VIEW jobs_monthly AS
SELECT
  site, resource, vo, project, queue, application, commercial,
  CAST(date_trunc('month', end_time) AS DATE) AS month,
  count(*) AS jobs,
  CAST(sum(wall_seconds) AS DOUBLE) / 3600 AS wall_hours,
  CAST(sum(cpu_seconds) AS DOUBLE) / 3600 AS cpu_hours,
  CAST(sum(core_seconds) AS DOUBLE) / 3600 AS core_hours,
  CAST(sum(normalised_hepscore23_seconds) AS DOUBLE) / 3600 AS normalised_core_hours_hepscore23,
  CAST(sum(normalised_hs06_seconds) AS DOUBLE) / 3600 AS normalised_core_hours_hs06,
  CAST(sum(normalised_core_seconds) AS DOUBLE) / 3600 AS normalised_core_hours,
  CAST(sum(CASE WHEN normalisation_type IS NULL THEN core_seconds ELSE 0 END) AS DOUBLE) / 3600
    AS unnormalised_core_hours,
  CAST(sum(gpu_seconds) AS DOUBLE) / 3600 AS gpu_hours,
  CAST(sum(cpu_seconds) AS DOUBLE) / nullif(sum(core_seconds), 0) AS cpu_efficiency,
  CAST(sum(wait_seconds) AS DOUBLE) / 3600 AS wait_hours,
  avg(CAST(wait_seconds AS DOUBLE)) AS mean_wait_seconds
FROM jobs_classified
GROUP BY site, resource, vo, project, queue, application, commercial, CAST(date_trunc('month', end_time) AS DATE)
