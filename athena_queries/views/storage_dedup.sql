-- storage_dedup: storage with one row per identity (site, storage_system, storage_share, path, owner, end_time); the copy
-- ingested last wins (then the larger batch_id, so the choice is deterministic).
--
-- A file never repeats an identity: the writer deduplicates each batch and compaction writes one
-- deduplicated file per partition. So only partitions holding more than one file can hold copies,
-- and only those pay for the window; a compacted partition is read straight through. An identity
-- includes end_time, whose UTC month is dt (YYYY-MM), so all copies of a record share a
-- partition. Day folders (dt=YYYY-MM-DD) written before this kind moved to month partitions
-- belong to their month, substr(dt, 1, 7), until compaction moves them there.
CREATE OR REPLACE VIEW storage_dedup AS
WITH partition_files AS (
  SELECT substr(dt, 1, 7) AS part, count(DISTINCT "$path") AS n_files
  FROM storage
  GROUP BY 1
)
SELECT
  site, storage_system, storage_share, storage_media, storage_class, path, owner, "group", vo,
  vo_group, vo_role, project, start_time, end_time, file_count, used_bytes, logical_used_bytes,
  allocated_bytes, record_id, ingested_at, batch_id, dt
FROM storage
WHERE substr(dt, 1, 7) IN (SELECT part FROM partition_files WHERE n_files = 1)
UNION ALL
SELECT
  site, storage_system, storage_share, storage_media, storage_class, path, owner, "group", vo,
  vo_group, vo_role, project, start_time, end_time, file_count, used_bytes, logical_used_bytes,
  allocated_bytes, record_id, ingested_at, batch_id, dt
FROM (
  SELECT
    site, storage_system, storage_share, storage_media, storage_class, path, owner, "group", vo,
    vo_group, vo_role, project, start_time, end_time, file_count, used_bytes, logical_used_bytes,
    allocated_bytes, record_id, ingested_at, batch_id, dt,
    row_number() OVER (
      PARTITION BY substr(dt, 1, 7), site, storage_system, storage_share, path, owner, end_time
      ORDER BY ingested_at DESC, batch_id DESC
    ) AS copy_rank
  FROM storage
  WHERE substr(dt, 1, 7) IN (SELECT part FROM partition_files WHERE n_files > 1)
) AS ranked
WHERE copy_rank = 1
