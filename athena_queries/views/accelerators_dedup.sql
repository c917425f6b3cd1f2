-- accelerators_dedup: accelerators with one row per identity (site, resource, associated_id, model, interval_start); the copy
-- ingested last wins (then the larger batch_id, so the choice is deterministic).
--
-- A file never repeats an identity: the writer deduplicates each batch and compaction writes one
-- deduplicated file per partition. So only partitions holding more than one file can hold copies,
-- and only those pay for the window; a compacted partition is read straight through. An identity
-- includes interval_start, whose UTC month is dt (YYYY-MM), so all copies of a record share a
-- partition. Day folders (dt=YYYY-MM-DD) written before this kind moved to month partitions
-- belong to their month, substr(dt, 1, 7), until compaction moves them there.
CREATE OR REPLACE VIEW accelerators_dedup AS
WITH partition_files AS (
  SELECT substr(dt, 1, 7) AS part, count(DISTINCT "$path") AS n_files
  FROM accelerators
  GROUP BY 1
)
SELECT
  site, resource, associated_kind, associated_id, accelerator_type, vendor, model, "count",
  interval_start, interval_end, allocated_seconds, active_seconds, utilisation_percent,
  memory_bytes, local_user, global_user, vo, project, benchmark_type, benchmark_per_unit,
  ingested_at, batch_id, dt
FROM accelerators
WHERE substr(dt, 1, 7) IN (SELECT part FROM partition_files WHERE n_files = 1)
UNION ALL
SELECT
  site, resource, associated_kind, associated_id, accelerator_type, vendor, model, "count",
  interval_start, interval_end, allocated_seconds, active_seconds, utilisation_percent,
  memory_bytes, local_user, global_user, vo, project, benchmark_type, benchmark_per_unit,
  ingested_at, batch_id, dt
FROM (
  SELECT
    site, resource, associated_kind, associated_id, accelerator_type, vendor, model, "count",
    interval_start, interval_end, allocated_seconds, active_seconds, utilisation_percent,
    memory_bytes, local_user, global_user, vo, project, benchmark_type, benchmark_per_unit,
    ingested_at, batch_id, dt,
    row_number() OVER (
      PARTITION BY substr(dt, 1, 7), site, resource, associated_id, model, interval_start
      ORDER BY ingested_at DESC, batch_id DESC
    ) AS copy_rank
  FROM accelerators
  WHERE substr(dt, 1, 7) IN (SELECT part FROM partition_files WHERE n_files > 1)
) AS ranked
WHERE copy_rank = 1
