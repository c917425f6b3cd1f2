-- vms_dedup: vms with one row per identity (provider, account, instance_id, interval_start); the copy
-- ingested last wins (then the larger batch_id, so the choice is deterministic).
--
-- A file never repeats an identity: the writer deduplicates each batch and compaction writes one
-- deduplicated file per partition. So only partitions holding more than one file can hold copies,
-- and only those pay for the window; a compacted partition is read straight through. An identity
-- includes interval_start, whose UTC date is dt, so all copies of a record share a partition.
CREATE OR REPLACE VIEW vms_dedup AS
WITH partition_files AS (
  SELECT dt, count(DISTINCT "$path") AS n_files
  FROM vms
  GROUP BY dt
)
SELECT
  site, resource, provider, account, region, instance_id, instance_type, image_id, vm_name,
  project, vo, global_user, interval_start, interval_end, boot_time, uptime_seconds,
  cpu_busy_seconds, cpu_idle_seconds, cpu_iowait_seconds, cpu_steal_seconds, vcpus, memory_bytes,
  net_rx_bytes, net_tx_bytes, state, benchmark_type, benchmark_per_core, measurement, ingested_at,
  batch_id, dt
FROM vms
WHERE dt IN (SELECT dt FROM partition_files WHERE n_files = 1)
UNION ALL
SELECT
  site, resource, provider, account, region, instance_id, instance_type, image_id, vm_name,
  project, vo, global_user, interval_start, interval_end, boot_time, uptime_seconds,
  cpu_busy_seconds, cpu_idle_seconds, cpu_iowait_seconds, cpu_steal_seconds, vcpus, memory_bytes,
  net_rx_bytes, net_tx_bytes, state, benchmark_type, benchmark_per_core, measurement, ingested_at,
  batch_id, dt
FROM (
  SELECT
    site, resource, provider, account, region, instance_id, instance_type, image_id, vm_name,
    project, vo, global_user, interval_start, interval_end, boot_time, uptime_seconds,
    cpu_busy_seconds, cpu_idle_seconds, cpu_iowait_seconds, cpu_steal_seconds, vcpus, memory_bytes,
    net_rx_bytes, net_tx_bytes, state, benchmark_type, benchmark_per_core, measurement, ingested_at,
  batch_id,
    dt,
    row_number() OVER (
      PARTITION BY dt, provider, account, instance_id, interval_start
      ORDER BY ingested_at DESC, batch_id DESC
    ) AS copy_rank
  FROM vms
  WHERE dt IN (SELECT dt FROM partition_files WHERE n_files > 1)
) AS ranked
WHERE copy_rank = 1
