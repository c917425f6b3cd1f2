-- jobs_usage: job usage per period of the end time ('day' or 'month', in grain; period_start is
-- the period's first day in UTC), site, resource, VO, project, queue, application and commercial
-- flag: the one definition of the job metrics that jobs_daily and jobs_monthly select a grain of.
-- A job counts whole in the period it ended (APEL convention), even when it started in the one
-- before. Hours are sums of seconds / 3600; the normalised columns sum only jobs with a known
-- benchmark (NULL when none is), and unnormalised_core_hours shows the rest.
-- cpu_efficiency = CPU time / (wall time x cores); wait = start_time - submit_time.
-- Each job appears once per grain; a filter on grain (as jobs_daily's) leaves the other unread.
CREATE OR REPLACE VIEW jobs_usage AS
WITH periods AS (
  SELECT
    'day' AS grain, CAST(end_time AS DATE) AS period_start,
    site, resource, vo, project, queue, application, commercial, wall_seconds, cpu_seconds,
    core_seconds, normalised_hepscore23_seconds, normalised_hs06_seconds, normalised_core_seconds,
    normalisation_type, gpu_seconds, wait_seconds
  FROM jobs_classified
  UNION ALL
  SELECT
    'month' AS grain, CAST(date_trunc('month', end_time) AS DATE) AS period_start,
    site, resource, vo, project, queue, application, commercial, wall_seconds, cpu_seconds,
    core_seconds, normalised_hepscore23_seconds, normalised_hs06_seconds, normalised_core_seconds,
    normalisation_type, gpu_seconds, wait_seconds
  FROM jobs_classified
)
SELECT
  grain, period_start, site, resource, vo, project, queue, application, commercial,
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
FROM periods
GROUP BY grain, period_start, site, resource, vo, project, queue, application, commercial
