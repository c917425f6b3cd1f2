-- The rows the jobs report aggregates (one per deduplicated job). The reports API and
-- `tally report jobs` group them by allow-listed dimensions with bound filters; see
-- tally.reports.catalog. jobs_by_application.sql is used when the application is asked for,
-- jobs_emissions.sql when emissions are.
SELECT
  u.site, u.resource, u.vo, u.project,
  -- A person: the Tally person the job's identity links to (person_usage), else their global
  -- identity, else their login at this site (two sites' logins of the same name are two people).
  coalesce(u.person_id, u.global_user, u.local_user || '@' || u.site) AS report_user, u.person_id,
  u.queue, u.infrastructure, u.state,
  u.end_time AS event_time, u.dt,
  u.wall_seconds, u.cpu_seconds, u.core_seconds, u.gpu_seconds, u.wait_seconds,
  u.normalised_hepscore23_seconds, u.normalised_hs06_seconds, u.normalised_core_seconds,
  u.normalisation_type,
  -- Energy (NULL where none was measured); memory where both are known. Emissions need the
  -- carbon intensity join: jobs_emissions.sql, read only when a report asks for them.
  u.energy_joules,
  CASE WHEN u.memory_requested_bytes > 0 THEN u.memory_max_bytes END AS memory_used_bytes,
  CASE WHEN u.memory_max_bytes IS NOT NULL AND u.memory_requested_bytes > 0
    THEN u.memory_requested_bytes END AS memory_requested_bytes
FROM person_usage AS u
