-- As jobs.sql, with each job's emissions: for reports that ask for co2e_kg or
-- jobs_without_intensity (the others do not pay for the carbon intensity join).
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
  -- Energy (NULL where none was measured) and its emissions at the site's carbon intensity valid
  -- at the job's end (registry_carbon_intensity; NULL where none is); memory where both are known.
  u.energy_joules,
  u.energy_joules * c.grams_co2e_per_kwh AS energy_joule_grams_per_kwh,
  CASE WHEN u.energy_joules IS NOT NULL AND c.grams_co2e_per_kwh IS NULL THEN 1 ELSE 0 END
    AS energy_without_intensity,
  CASE WHEN u.memory_requested_bytes > 0 THEN u.memory_max_bytes END AS memory_used_bytes,
  CASE WHEN u.memory_max_bytes IS NOT NULL AND u.memory_requested_bytes > 0
    THEN u.memory_requested_bytes END AS memory_requested_bytes
FROM person_usage AS u
LEFT JOIN registry_carbon_intensity AS c
  ON c.site = u.site
  AND u.end_time >= c.valid_from
  AND (c.valid_to IS NULL OR u.end_time < c.valid_to)
