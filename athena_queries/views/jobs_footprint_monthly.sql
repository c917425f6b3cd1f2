-- jobs_footprint_monthly: energy, estimated emissions and efficiency per UTC month of the jobs'
-- end time, site, project and person (report_user, as jobs_energy), from jobs_energy.
--
-- energy_kwh and co2e_kg sum only the jobs that have them (NULL when none does): jobs_with_energy
-- says how many measured energy, jobs_without_intensity how many of those had no carbon intensity
-- for their site and time (so their energy is in energy_kwh but not in co2e_kg).
-- cpu_efficiency = CPU time / (wall time x cores); memory_efficiency = peak memory used / memory
-- requested, over the jobs that have both. The sums are kept (cpu_seconds, core_seconds,
-- memory_*_bytes) so coarser groupings (per site, per project) are ratios of sums, not means of
-- ratios.
CREATE OR REPLACE VIEW jobs_footprint_monthly AS
SELECT
  CAST(date_trunc('month', end_time) AS DATE) AS month,
  site, project, report_user,
  count(*) AS jobs,
  count(energy_joules) AS jobs_with_energy,
  sum(CASE WHEN energy_joules IS NOT NULL AND grams_co2e_per_kwh IS NULL THEN 1 ELSE 0 END)
    AS jobs_without_intensity,
  sum(energy_kwh) AS energy_kwh,
  sum(co2e_kg) AS co2e_kg,
  sum(cpu_seconds) AS cpu_seconds,
  sum(core_seconds) AS core_seconds,
  CAST(sum(cpu_seconds) AS DOUBLE) / nullif(sum(core_seconds), 0) AS cpu_efficiency,
  sum(CASE WHEN memory_known THEN memory_max_bytes END) AS memory_used_bytes,
  sum(CASE WHEN memory_known THEN memory_requested_bytes END) AS memory_requested_bytes,
  CAST(sum(CASE WHEN memory_known THEN memory_max_bytes END) AS DOUBLE)
    / nullif(sum(CASE WHEN memory_known THEN memory_requested_bytes END), 0) AS memory_efficiency
FROM jobs_energy
GROUP BY CAST(date_trunc('month', end_time) AS DATE), site, project, report_user
