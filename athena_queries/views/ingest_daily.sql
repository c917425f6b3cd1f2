-- ingest_daily: what arrived per site, kind and UTC day of arrival: stored records (every copy
-- written, before deduplication), batches, the latest event time among them (end_time, or
-- interval_end for vms and accelerators), and records quarantined that day. Quarantined records
-- are counted from the quarantine NDJSON files themselves (one line per refused record), so the
-- count is what is kept for repair, whatever the control store says.
CREATE OR REPLACE VIEW ingest_daily AS
WITH arrivals AS (
  SELECT site, 'jobs' AS kind, CAST(ingested_at AS DATE) AS day, count(*) AS records,
    count(DISTINCT batch_id) AS batches, max(end_time) AS latest_event, 0 AS quarantined
  FROM jobs
  GROUP BY site, CAST(ingested_at AS DATE)
  UNION ALL
  SELECT site, 'vms' AS kind, CAST(ingested_at AS DATE) AS day, count(*) AS records,
    count(DISTINCT batch_id) AS batches, max(interval_end) AS latest_event, 0 AS quarantined
  FROM vms
  GROUP BY site, CAST(ingested_at AS DATE)
  UNION ALL
  SELECT site, 'storage' AS kind, CAST(ingested_at AS DATE) AS day, count(*) AS records,
    count(DISTINCT batch_id) AS batches, max(end_time) AS latest_event, 0 AS quarantined
  FROM storage
  GROUP BY site, CAST(ingested_at AS DATE)
  UNION ALL
  SELECT site, 'accelerators' AS kind, CAST(ingested_at AS DATE) AS day, count(*) AS records,
    count(DISTINCT batch_id) AS batches, max(interval_end) AS latest_event, 0 AS quarantined
  FROM accelerators
  GROUP BY site, CAST(ingested_at AS DATE)
  UNION ALL
  SELECT site, kind, CAST(dt AS DATE) AS day, 0 AS records, 0 AS batches,
    CAST(NULL AS TIMESTAMP) AS latest_event, count(*) AS quarantined
  FROM quarantine
  GROUP BY site, kind, CAST(dt AS DATE)
)
SELECT
  site, kind, day,
  sum(records) AS records,
  sum(batches) AS batches,
  max(latest_event) AS latest_event,
  sum(quarantined) AS quarantined
FROM arrivals
GROUP BY site, kind, day
