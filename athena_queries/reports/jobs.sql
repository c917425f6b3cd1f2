-- The rows the jobs report aggregates (one per deduplicated job). The reports API and
-- `tally report jobs` group them by allow-listed dimensions with bound filters; see
-- tally.reports.catalog. jobs_by_application.sql is used when the application is asked for.
SELECT
  site, resource, vo, project,
  -- A person: the Tally person the job's identity links to (person_usage), else their global
  -- identity, else their login at this site (two sites' logins of the same name are two people).
  coalesce(person_id, global_user, local_user || '@' || site) AS report_user, person_id,
  queue, infrastructure, state,
  end_time AS event_time, dt,
  wall_seconds, cpu_seconds, core_seconds, gpu_seconds, wait_seconds,
  normalised_hepscore23_seconds, normalised_hs06_seconds, normalised_core_seconds, normalisation_type
FROM person_usage
