-- jobs_dedup: jobs with one row per identity (site, resource, local_job_id, end_time); the copy
-- ingested last wins (then the larger batch_id, so the choice is deterministic).
--
-- A file never repeats an identity: the writer deduplicates each batch and compaction writes one
-- deduplicated file per partition. So only partitions holding more than one file can hold copies,
-- and only those pay for the window; a compacted partition is read straight through. An identity
-- includes end_time, whose UTC month is dt (YYYY-MM), so all copies of a record share a
-- partition. Day folders (dt=YYYY-MM-DD) written before this kind moved to month partitions
-- belong to their month, substr(dt, 1, 7), until compaction moves them there.
CREATE OR REPLACE VIEW jobs_dedup AS
WITH partition_files AS (
  SELECT substr(dt, 1, 7) AS part, count(DISTINCT "$path") AS n_files
  FROM jobs
  GROUP BY 1
)
SELECT
  site, resource, batch_system, infrastructure, local_job_id, array_job_id, array_index, job_name,
  local_user, local_group, global_user, vo, vo_group, vo_role, project, queue, qos, application,
  submit_time, start_time, end_time, wall_seconds, cpu_seconds, cores, nodes, gpus, gpu_model,
  memory_requested_bytes, memory_max_bytes, energy_joules, state, exit_code, node_list,
  benchmark_type, benchmark_per_core, cancelled_by, ingested_at, batch_id, dt
FROM jobs
WHERE substr(dt, 1, 7) IN (SELECT part FROM partition_files WHERE n_files = 1)
UNION ALL
SELECT
  site, resource, batch_system, infrastructure, local_job_id, array_job_id, array_index, job_name,
  local_user, local_group, global_user, vo, vo_group, vo_role, project, queue, qos, application,
  submit_time, start_time, end_time, wall_seconds, cpu_seconds, cores, nodes, gpus, gpu_model,
  memory_requested_bytes, memory_max_bytes, energy_joules, state, exit_code, node_list,
  benchmark_type, benchmark_per_core, cancelled_by, ingested_at, batch_id, dt
FROM (
  SELECT
    site, resource, batch_system, infrastructure, local_job_id, array_job_id, array_index,
    job_name, local_user, local_group, global_user, vo, vo_group, vo_role, project, queue, qos,
    application, submit_time, start_time, end_time, wall_seconds, cpu_seconds, cores, nodes, gpus,
    gpu_model, memory_requested_bytes, memory_max_bytes, energy_joules, state, exit_code,
    node_list, benchmark_type, benchmark_per_core, cancelled_by, ingested_at, batch_id, dt,
    row_number() OVER (
      PARTITION BY substr(dt, 1, 7), site, resource, local_job_id, end_time
      ORDER BY ingested_at DESC, batch_id DESC
    ) AS copy_rank
  FROM jobs
  WHERE substr(dt, 1, 7) IN (SELECT part FROM partition_files WHERE n_files > 1)
) AS ranked
WHERE copy_rank = 1
