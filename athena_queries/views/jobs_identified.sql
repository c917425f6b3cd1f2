-- jobs_identified: deduplicated jobs with the grid identity that BLAH/CREAM logs (grid_identities)
-- give a job posted without a global user or VO; jobs_normalised and what reads it see this view.
--
-- A job posted with no global_user or no vo matches the identity lines of its site and resource
-- whose batch job id is its own, compared before the first '.' (`9575064.lrms1` is job 9575064,
-- as APEL joins LrmsId to the batch record's JobName), and whose submit time lies at most one day
-- after the job's end and at most 28 days before it (APEL's BLAH parser: ValidFrom = timestamp
-- - 1 day, ValidUntil = timestamp + 28 days). Batch ids are reused, so of several matches the last
-- submitted before the job ended wins (then the latest otherwise; then the DN, to be deterministic).
-- What the job itself says is kept; only missing values are filled, and a job given an identity is
-- infrastructure 'grid'. A join of views, so the order in which the job and its BLAH line arrive
-- makes no difference.
CREATE OR REPLACE VIEW jobs_identified AS
WITH unidentified AS (
  SELECT site, resource, local_job_id, end_time
  FROM jobs_dedup
  WHERE global_user IS NULL OR vo IS NULL
),
ranked AS (
  SELECT
    u.site, u.resource, u.local_job_id, u.end_time,
    i.global_user, i.vo, i.vo_group, i.vo_role,
    row_number() OVER (
      PARTITION BY u.site, u.resource, u.local_job_id, u.end_time
      ORDER BY
        CASE WHEN i.submit_time <= u.end_time THEN 0 ELSE 1 END,
        i.submit_time DESC,
        i.global_user
    ) AS identity_rank
  FROM unidentified AS u
  JOIN grid_identities_dedup AS i
    ON i.site = u.site
    AND i.resource = u.resource
    AND split_part(i.lrms_id, '.', 1) = split_part(u.local_job_id, '.', 1)
    AND u.end_time >= i.submit_time - INTERVAL '1' DAY
    AND u.end_time <= i.submit_time + INTERVAL '28' DAY
),
matched AS (
  SELECT site, resource, local_job_id, end_time, global_user, vo, vo_group, vo_role
  FROM ranked
  WHERE identity_rank = 1
)
SELECT
  j.site, j.resource, j.batch_system,
  CASE WHEN m.global_user IS NOT NULL THEN 'grid' ELSE j.infrastructure END AS infrastructure,
  j.local_job_id, j.array_job_id, j.array_index, j.job_name, j.local_user, j.local_group,
  coalesce(j.global_user, m.global_user) AS global_user,
  coalesce(j.vo, m.vo) AS vo,
  coalesce(j.vo_group, m.vo_group) AS vo_group,
  coalesce(j.vo_role, m.vo_role) AS vo_role,
  j.project, j.queue, j.qos, j.application, j.submit_time, j.start_time, j.end_time,
  j.wall_seconds, j.cpu_seconds, j.cores, j.nodes, j.gpus, j.gpu_model, j.memory_requested_bytes,
  j.memory_max_bytes, j.energy_joules, j.state, j.exit_code, j.node_list, j.benchmark_type,
  j.benchmark_per_core, j.cancelled_by, j.ingested_at, j.batch_id, j.dt
FROM jobs_dedup AS j
LEFT JOIN matched AS m
  ON m.site = j.site
  AND m.resource = j.resource
  AND m.local_job_id = j.local_job_id
  AND m.end_time = j.end_time
