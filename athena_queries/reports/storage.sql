-- The rows the storage report aggregates: one per storage share, path, owner and month
-- (storage_monthly). Sums over rows add up shares; the time dimension is the month only.
SELECT
  site, storage_system, storage_share, storage_media, vo, project,
  CAST(month AS TIMESTAMP) AS event_time, CAST(month AS VARCHAR) AS dt,
  avg_used_bytes, peak_used_bytes, last_used_bytes, avg_allocated_bytes, peak_allocated_bytes
FROM storage_monthly
