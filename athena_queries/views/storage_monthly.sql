-- storage_monthly: per UTC month and storage share, path and owner (the record identity without
-- its time), with the VO and project the snapshots name: the number of snapshots, the average and
-- the peak of used bytes over the month's snapshots, the last used value, and allocated bytes
-- (average and peak). Snapshots are weighted equally: sites report them at a regular interval.
CREATE OR REPLACE VIEW storage_monthly AS
SELECT
  site, storage_system, storage_share, storage_media, path, owner, vo, project,
  CAST(date_trunc('month', end_time) AS DATE) AS month,
  count(*) AS snapshots,
  avg(CAST(used_bytes AS DOUBLE)) AS avg_used_bytes,
  max(used_bytes) AS peak_used_bytes,
  max_by(used_bytes, end_time) AS last_used_bytes,
  avg(CAST(allocated_bytes AS DOUBLE)) AS avg_allocated_bytes,
  max(allocated_bytes) AS peak_allocated_bytes,
  max_by(file_count, end_time) AS last_file_count
FROM storage_dedup
GROUP BY
  site, storage_system, storage_share, storage_media, path, owner, vo, project,
  CAST(date_trunc('month', end_time) AS DATE)
