-- jobs_normalised: deduplicated jobs (with their grid identity, jobs_identified) with their
-- effective VO and APEL normalisation.
--
-- VO: the record's own VO, else the registry's mapping of the job's project, else of its local
-- group (registry_vo_mapping; at most one mapping per site, field and value).
-- Benchmark per core, per type: the record's own value when it states that type (si2k is
-- converted to HS06 at 250 si2k = 1 HS06), else the registry value for the job's resource whose
-- validity interval [valid_from, valid_to) holds the job's end_time (registry_benchmarks: at most
-- one matches). HEPscore23 is preferred where both are known.
-- Normalised core-seconds = wall_seconds x cores x benchmark per core (APEL).
CREATE OR REPLACE VIEW jobs_normalised AS
WITH project_vo AS (
  SELECT site, match_value, vo FROM registry_vo_mapping WHERE match_field = 'project'
),
group_vo AS (
  SELECT site, match_value, vo FROM registry_vo_mapping WHERE match_field = 'local_group'
),
resolved AS (
  SELECT
    j.site, j.resource, j.batch_system, j.infrastructure, j.local_job_id, j.array_job_id,
    j.array_index, j.job_name, j.local_user, j.local_group, j.global_user,
    coalesce(j.vo, pv.vo, gv.vo) AS vo,
    j.vo AS reported_vo,
    j.vo_group, j.vo_role, j.project, j.queue, j.qos, j.application, j.submit_time,
    j.start_time, j.end_time, j.wall_seconds, j.cpu_seconds, j.cores, j.nodes, j.gpus,
    j.gpu_model, j.memory_requested_bytes, j.memory_max_bytes, j.energy_joules, j.state,
    j.exit_code, j.benchmark_type, j.benchmark_per_core, j.ingested_at, j.batch_id, j.dt,
    coalesce(
      CASE WHEN j.benchmark_type = 'HEPscore23' THEN j.benchmark_per_core END,
      h.benchmark_per_core
    ) AS hepscore23_per_core,
    coalesce(
      CASE
        WHEN j.benchmark_type = 'HS06' THEN j.benchmark_per_core
        WHEN j.benchmark_type = 'si2k' THEN CAST(j.benchmark_per_core AS DOUBLE) / 250
      END,
      s.benchmark_per_core
    ) AS hs06_per_core
  FROM jobs_identified AS j
  LEFT JOIN project_vo AS pv ON pv.site = j.site AND pv.match_value = j.project
  LEFT JOIN group_vo AS gv ON gv.site = j.site AND gv.match_value = j.local_group
  LEFT JOIN registry_benchmarks AS h
    ON h.benchmark_type = 'HEPscore23' AND h.site = j.site AND h.resource = j.resource
    AND j.end_time >= h.valid_from AND (h.valid_to IS NULL OR j.end_time < h.valid_to)
  LEFT JOIN registry_benchmarks AS s
    ON s.benchmark_type = 'HS06' AND s.site = j.site AND s.resource = j.resource
    AND j.end_time >= s.valid_from AND (s.valid_to IS NULL OR j.end_time < s.valid_to)
)
SELECT
  site, resource, batch_system, infrastructure, local_job_id, array_job_id, array_index,
  job_name, local_user, local_group, global_user, vo, reported_vo, vo_group, vo_role, project,
  queue, qos, application, submit_time, start_time, end_time, wall_seconds, cpu_seconds, cores,
  nodes, gpus, gpu_model, memory_requested_bytes, memory_max_bytes, energy_joules, state,
  exit_code, benchmark_type, benchmark_per_core, ingested_at, batch_id, dt,
  coalesce(global_user, local_user) AS user_name,
  wall_seconds * cores AS core_seconds,
  wall_seconds * gpus AS gpu_seconds,
  CASE
    WHEN submit_time IS NOT NULL AND start_time IS NOT NULL
    THEN date_diff('second', submit_time, start_time)
  END AS wait_seconds,
  hepscore23_per_core,
  hs06_per_core,
  CASE
    WHEN hepscore23_per_core IS NOT NULL THEN 'HEPscore23'
    WHEN hs06_per_core IS NOT NULL THEN 'HS06'
  END AS normalisation_type,
  wall_seconds * cores * hepscore23_per_core AS normalised_hepscore23_seconds,
  wall_seconds * cores * hs06_per_core AS normalised_hs06_seconds,
  wall_seconds * cores * coalesce(hepscore23_per_core, hs06_per_core) AS normalised_core_seconds,
  cpu_seconds * coalesce(hepscore23_per_core, hs06_per_core) AS normalised_cpu_seconds
FROM resolved
