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
--
-- The jobs are read once. The rule is worked out on the (few) identity lines instead: of the lines
-- of one site, resource and batch id, ordered by submit time S (lines of equal S reduced to the
-- smallest DN first), a line wins every job ending at E with
--   S <= E < next S and E <= S + 28 days              (the last submitted before the end), or else
--   S - 1 day <= E < next S - 1 day and E < S          (the latest submitted within a day after).
-- Each kind of interval is disjoint within a batch id, so each of the two joins gives a job at
-- most one line and no window runs over the jobs; the first kind wins when both match.
CREATE OR REPLACE VIEW jobs_identified AS
WITH lines AS (
  SELECT
    site, resource, split_part(lrms_id, '.', 1) AS job_id, submit_time,
    global_user, vo, vo_group, vo_role,
    row_number() OVER (
      PARTITION BY site, resource, split_part(lrms_id, '.', 1), submit_time
      ORDER BY global_user, vo, vo_group, vo_role, lrms_id
    ) AS dn_rank
  FROM grid_identities_dedup
  WHERE site IS NOT NULL AND resource IS NOT NULL AND lrms_id IS NOT NULL AND submit_time IS NOT NULL
),
intervals AS (
  SELECT
    site, resource, job_id, submit_time, global_user, vo, vo_group, vo_role,
    lead(submit_time) OVER (PARTITION BY site, resource, job_id ORDER BY submit_time) AS next_submit
  FROM lines
  WHERE dn_rank = 1
)
SELECT
  j.site, j.resource, j.batch_system,
  CASE
    WHEN (CASE WHEN b.submit_time IS NOT NULL THEN b.global_user ELSE a.global_user END) IS NOT NULL
      THEN 'grid'
    ELSE j.infrastructure
  END AS infrastructure,
  j.local_job_id, j.array_job_id, j.array_index, j.job_name, j.local_user, j.local_group,
  coalesce(j.global_user, CASE WHEN b.submit_time IS NOT NULL THEN b.global_user ELSE a.global_user END)
    AS global_user,
  coalesce(j.vo, CASE WHEN b.submit_time IS NOT NULL THEN b.vo ELSE a.vo END) AS vo,
  coalesce(j.vo_group, CASE WHEN b.submit_time IS NOT NULL THEN b.vo_group ELSE a.vo_group END) AS vo_group,
  coalesce(j.vo_role, CASE WHEN b.submit_time IS NOT NULL THEN b.vo_role ELSE a.vo_role END) AS vo_role,
  j.project, j.queue, j.qos, j.application, j.submit_time, j.start_time, j.end_time,
  j.wall_seconds, j.cpu_seconds, j.cores, j.nodes, j.gpus, j.gpu_model, j.memory_requested_bytes,
  j.memory_max_bytes, j.energy_joules, j.state, j.exit_code, j.node_list, j.benchmark_type,
  j.benchmark_per_core, j.cancelled_by, j.ingested_at, j.batch_id, j.dt
FROM jobs_dedup AS j
LEFT JOIN intervals AS b
  ON (j.global_user IS NULL OR j.vo IS NULL)
  AND b.site = j.site
  AND b.resource = j.resource
  AND b.job_id = split_part(j.local_job_id, '.', 1)
  AND j.end_time >= b.submit_time
  AND (b.next_submit IS NULL OR j.end_time < b.next_submit)
  AND j.end_time <= b.submit_time + INTERVAL '28' DAY
LEFT JOIN intervals AS a
  ON (j.global_user IS NULL OR j.vo IS NULL)
  AND a.site = j.site
  AND a.resource = j.resource
  AND a.job_id = split_part(j.local_job_id, '.', 1)
  AND j.end_time >= a.submit_time - INTERVAL '1' DAY
  AND j.end_time < a.submit_time
  AND (a.next_submit IS NULL OR j.end_time < a.next_submit - INTERVAL '1' DAY)
