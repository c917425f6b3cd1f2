-- jobs_energy: each deduplicated job (person_usage) with its measured energy and estimated
-- emissions, and the figures its CPU and memory efficiency are made of.
--
-- energy_joules is what the batch system measured (Slurm's ConsumedEnergyRaw), NULL where it
-- measured nothing: energy_kwh and co2e_kg stay NULL then, never 0. energy_kwh = joules / 3.6e6.
-- The carbon intensity is the site's registry value (registry_carbon_intensity, gCO2e/kWh) whose
-- validity interval [valid_from, valid_to) holds the job's end_time (intervals of one site never
-- overlap, so at most one matches); co2e_kg = energy_kwh x intensity / 1000, NULL where the site
-- has no intensity for that time. report_user is the reports' person: the Tally person, else the
-- global identity, else the login at its site. Memory figures are the peak resident memory the
-- batch system saw and the memory requested; memory_known says both are there.
CREATE OR REPLACE VIEW jobs_energy AS
SELECT
  u.site, u.resource, u.local_job_id, u.end_time, u.dt, u.vo, u.project, u.queue,
  u.local_user, u.global_user, u.person_id,
  coalesce(u.person_id, u.global_user, u.local_user || '@' || u.site) AS report_user,
  u.wall_seconds, u.cpu_seconds, u.cores, u.core_seconds,
  u.memory_requested_bytes, u.memory_max_bytes,
  (u.memory_requested_bytes IS NOT NULL AND u.memory_requested_bytes > 0
    AND u.memory_max_bytes IS NOT NULL) AS memory_known,
  u.energy_joules,
  CAST(u.energy_joules AS DOUBLE) / 3600000 AS energy_kwh,
  c.grams_co2e_per_kwh,
  CAST(u.energy_joules AS DOUBLE) / 3600000 * c.grams_co2e_per_kwh / 1000 AS co2e_kg
FROM person_usage AS u
LEFT JOIN registry_carbon_intensity AS c
  ON c.site = u.site
  AND u.end_time >= c.valid_from
  AND (c.valid_to IS NULL OR u.end_time < c.valid_to)
