-- The rows the jobs report aggregates (one per deduplicated job). The reports API and
-- `tally report jobs` group them by allow-listed dimensions with bound filters; see
-- tally.reports.catalog. jobs_by_application.sql is used when the application is asked for.
SELECT
  site, resource, vo, project, user_name, queue, infrastructure, state,
  end_time AS event_time, dt,
  wall_seconds, cpu_seconds, core_seconds, gpu_seconds, wait_seconds,
  normalised_hepscore23_seconds, normalised_hs06_seconds, normalised_core_seconds, normalisation_type
FROM jobs_normalised
