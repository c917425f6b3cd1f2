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
-- The jobs are read once, in one join. The rule is worked out on the (few) identity lines instead:
-- of the lines of one site, resource and batch id, ordered by submit time S (of lines with equal S
-- the smallest DN), a line wins every job ending at E with
--   S <= E < next S and E <= S + 28 days                     (the last submitted before the end),
--   or else S - 1 day <= E < next S - 1 day and E < S       (the latest submitted within a day after)
--   when no line is in the window before E: E < the first S of the day before this S (a line
--   there is a day or less before E) and E > 28 days after the last S before that day.
-- These intervals do not overlap within a batch id, so a job matches at most one line.
CREATE OR REPLACE VIEW jobs_identified AS
WITH raw_lines AS (
  SELECT
    site, resource, split_part(lrms_id, '.', 1) AS job_id, lrms_id, submit_time,
    global_user, vo, vo_group, vo_role
  FROM grid_identities_dedup
  WHERE site IS NOT NULL AND resource IS NOT NULL AND lrms_id IS NOT NULL AND submit_time IS NOT NULL
),
lines AS (
  -- One line per submit time (the smallest DN, then batch id, of the lines handed over at once)
  -- with its neighbours among the lines of its batch id: a join of the few lines to themselves,
  -- cheaper here than windows over as many one-row partitions.
  SELECT
    l.site, l.resource, l.job_id, l.submit_time,
    min(l.global_user) AS global_user,
    min_by(l.vo, ROW(l.global_user, l.lrms_id)) AS vo,
    min_by(l.vo_group, ROW(l.global_user, l.lrms_id)) AS vo_group,
    min_by(l.vo_role, ROW(l.global_user, l.lrms_id)) AS vo_role,
    min(CASE WHEN o.submit_time > l.submit_time THEN o.submit_time END) AS next_submit,
    min(
      CASE WHEN o.submit_time >= l.submit_time - INTERVAL '1' DAY AND o.submit_time <= l.submit_time
        THEN o.submit_time END
    ) AS first_in_day_before,
    max(CASE WHEN o.submit_time <= l.submit_time - INTERVAL '1' DAY THEN o.submit_time END) AS last_before_day
  FROM raw_lines AS l
  JOIN raw_lines AS o ON o.site = l.site AND o.resource = l.resource AND o.job_id = l.job_id
  GROUP BY l.site, l.resource, l.job_id, l.submit_time
),
intervals AS (
  SELECT
    site, resource, job_id, global_user, vo, vo_group, vo_role,
    submit_time AS ends_from,
    CAST(NULL AS TIMESTAMP) AS ends_after,
    next_submit AS ends_before,
    submit_time + INTERVAL '28' DAY AS ends_by
  FROM lines
  UNION ALL
  SELECT
    site, resource, job_id, global_user, vo, vo_group, vo_role,
    submit_time - INTERVAL '1' DAY AS ends_from,
    last_before_day + INTERVAL '28' DAY AS ends_after,
    CASE
      WHEN next_submit IS NULL THEN first_in_day_before
      ELSE least(first_in_day_before, next_submit - INTERVAL '1' DAY)
    END AS ends_before,
    CAST(NULL AS TIMESTAMP) AS ends_by
  FROM lines
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
LEFT JOIN intervals AS m
  ON (j.global_user IS NULL OR j.vo IS NULL)
  AND m.site = j.site
  AND m.resource = j.resource
  -- split_part makes a list of the parts: skipped for the (usual) id without a suffix.
  AND m.job_id = CASE
    WHEN strpos(j.local_job_id, '.') = 0 THEN j.local_job_id
    ELSE split_part(j.local_job_id, '.', 1)
  END
  AND j.end_time >= m.ends_from
  AND (m.ends_after IS NULL OR j.end_time > m.ends_after)
  AND (m.ends_before IS NULL OR j.end_time < m.ends_before)
  AND (m.ends_by IS NULL OR j.end_time <= m.ends_by)
