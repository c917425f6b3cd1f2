-- usage_priced: every usage record in a billable unit, with the tariff valid at the record's time.
--
-- A record's time: a job's end_time, a VM interval's or GPU interval's interval_start, a storage
-- snapshot's end_time; so a tariff change mid-month prices each record at the rate of its time.
-- Quantities: normalised core-hours of the tariff's benchmark (jobs_normalised), GPU-hours
-- (allocated device-seconds of accelerators_dedup / 3600; for a batch job no accelerator record
-- names, its own GPU count x wall time, of its gpu_model, at its end_time), VM vCPU-hours and memory GB-hours
-- (interval length x vCPUs or x memory bytes / 10^9, from vms_dedup), storage TB-months (each
-- snapshot of a share, path and owner carries 1/n of its month, n its snapshots that month, so a
-- month's TB-months are its mean used TB). A record no tariff covers is not in this view.
-- project_class: the class of the price list ('' for the default list). person_id: the person a job
-- belongs to through their identity links (person_usage); NULL for the other kinds, whose records
-- no link resolves yet, so a per-person invoice prices that person's jobs.
CREATE OR REPLACE VIEW usage_priced AS
WITH usage AS (
  SELECT
    site, resource, project, user_name, person_id, end_time AS used_at, 'core_hour' AS unit,
    'HEPscore23' AS benchmark, CAST(NULL AS varchar) AS gpu_model,
    CAST(normalised_hepscore23_seconds AS DOUBLE) / 3600 AS quantity
  FROM person_usage
  WHERE normalised_hepscore23_seconds IS NOT NULL
  UNION ALL
  SELECT
    site, resource, project, user_name, person_id, end_time, 'core_hour', 'HS06',
    CAST(NULL AS varchar), CAST(normalised_hs06_seconds AS DOUBLE) / 3600
  FROM person_usage
  WHERE normalised_hs06_seconds IS NOT NULL
  UNION ALL
  SELECT
    site, resource, project, coalesce(global_user, local_user), CAST(NULL AS varchar),
    interval_start, 'gpu_hour',
    CAST(NULL AS varchar), model, CAST(allocated_seconds AS DOUBLE) / 3600
  FROM accelerators_dedup
  WHERE allocated_seconds IS NOT NULL
  UNION ALL
  SELECT
    p.site, p.resource, p.project, p.user_name, p.person_id, p.end_time, 'gpu_hour',
    CAST(NULL AS varchar), p.gpu_model, CAST(p.gpu_seconds AS DOUBLE) / 3600
  FROM person_usage AS p
  WHERE p.gpus > 0 AND p.gpu_model IS NOT NULL AND p.gpu_seconds IS NOT NULL
    AND NOT EXISTS (
      SELECT 1 FROM accelerators_dedup AS a
      WHERE a.associated_kind = 'job' AND a.site = p.site AND a.resource = p.resource
        AND a.associated_id = p.local_job_id
    )
  UNION ALL
  SELECT
    site, resource, project, global_user, CAST(NULL AS varchar), interval_start, 'vm_vcpu_hour',
    CAST(NULL AS varchar),
    CAST(NULL AS varchar),
    CAST(date_diff('second', interval_start, interval_end) * vcpus AS DOUBLE) / 3600
  FROM vms_dedup
  WHERE vcpus IS NOT NULL
  UNION ALL
  SELECT
    site, resource, project, global_user, CAST(NULL AS varchar), interval_start, 'vm_gb_hour',
    CAST(NULL AS varchar),
    CAST(NULL AS varchar),
    CAST(date_diff('second', interval_start, interval_end) AS DOUBLE) * memory_bytes / 1e9 / 3600
  FROM vms_dedup
  WHERE memory_bytes IS NOT NULL
  UNION ALL
  SELECT
    site, storage_system, project, owner, CAST(NULL AS varchar), end_time, 'storage_tb_month',
    CAST(NULL AS varchar),
    CAST(NULL AS varchar),
    CAST(used_bytes AS DOUBLE) / 1e12 / count(*) OVER (
      PARTITION BY site, storage_system, storage_share, path, owner, date_trunc('month', end_time)
    )
  FROM storage_dedup
  WHERE used_bytes IS NOT NULL
)
SELECT
  u.site, u.resource, u.project, u.user_name, u.person_id, u.used_at, u.unit, u.benchmark, u.gpu_model,
  u.quantity, t.tariff_id, coalesce(t.project_class, '') AS project_class, t.rate, t.currency,
  t.valid_from, t.valid_to
FROM usage AS u
JOIN tariffs AS t
  ON t.site = u.site AND t.resource = u.resource AND t.unit = u.unit
  AND (t.unit <> 'core_hour' OR t.benchmark = u.benchmark)
  AND (t.unit <> 'gpu_hour' OR t.gpu_model = u.gpu_model)
  AND u.used_at >= t.valid_from AND (t.valid_to IS NULL OR u.used_at < t.valid_to)
