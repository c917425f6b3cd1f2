-- As jobs.sql, with the application and commercial flag (jobs_classified), for reports that ask for them.
SELECT
  site, resource, vo, project,
  -- A person: their global identity where known, else their login at this site (two sites'
  -- logins of the same name are two people).
  coalesce(global_user, local_user || '@' || site) AS report_user,
  queue, infrastructure, state, application, commercial,
  end_time AS event_time, dt,
  wall_seconds, cpu_seconds, core_seconds, gpu_seconds, wait_seconds,
  normalised_hepscore23_seconds, normalised_hs06_seconds, normalised_core_seconds, normalisation_type
FROM jobs_classified
