-- vms_instance_days: one row per VM instance and UTC day of its sampling intervals (an interval
-- counts in the day it starts). measured_hours sums the interval lengths the agent reported
-- (gaps when the agent was down are not counted); cpu_busy_hours sums busy CPU seconds over all
-- vCPUs; vcpu_hours = interval hours x vCPUs. Normalised hours = vCPU hours x benchmark per core,
-- from the record when it states the type, else from registry_benchmarks for the VM's site and
-- resource at the interval start; HEPscore23 is preferred where both are known. measurement says
-- how the intervals were measured: 'agent' (inside the VM) or 'events' (from the cloud's
-- notifications, e.g. OpenStack: no CPU counters, so cpu_busy_hours is 0 there). net_rx_bytes and
-- net_tx_bytes sum the samples' network counters (NULL when no sample of the day had any).
CREATE OR REPLACE VIEW vms_instance_days AS
WITH intervals AS (
  SELECT
    v.site, v.resource, v.provider, v.account, v.region, v.instance_id, v.instance_type,
    v.project, v.vo, v.dt, v.interval_start, v.interval_end, v.uptime_seconds, v.vcpus,
    v.cpu_busy_seconds, v.net_rx_bytes, v.net_tx_bytes,
    coalesce(v.measurement, 'agent') AS measurement,
    date_diff('second', v.interval_start, v.interval_end) AS interval_seconds,
    coalesce(
      CASE WHEN v.benchmark_type = 'HEPscore23' THEN v.benchmark_per_core END,
      h.benchmark_per_core
    ) AS hepscore23_per_core,
    coalesce(
      CASE
        WHEN v.benchmark_type = 'HS06' THEN v.benchmark_per_core
        WHEN v.benchmark_type = 'si2k' THEN CAST(v.benchmark_per_core AS DOUBLE) / 250
      END,
      s.benchmark_per_core
    ) AS hs06_per_core
  FROM vms_dedup AS v
  LEFT JOIN registry_benchmarks AS h
    ON h.benchmark_type = 'HEPscore23' AND h.site = v.site AND h.resource = v.resource
    AND v.interval_start >= h.valid_from AND (h.valid_to IS NULL OR v.interval_start < h.valid_to)
  LEFT JOIN registry_benchmarks AS s
    ON s.benchmark_type = 'HS06' AND s.site = v.site AND s.resource = v.resource
    AND v.interval_start >= s.valid_from AND (s.valid_to IS NULL OR v.interval_start < s.valid_to)
)
SELECT
  site, resource, provider, account, region, instance_id, instance_type, project, vo, dt,
  CAST(interval_start AS DATE) AS day, measurement,
  count(*) AS samples,
  min(interval_start) AS first_seen,
  max(interval_end) AS last_seen,
  max(uptime_seconds) AS max_uptime_seconds,
  max(vcpus) AS vcpus,
  CAST(sum(interval_seconds) AS DOUBLE) / 3600 AS measured_hours,
  CAST(sum(cpu_busy_seconds) AS DOUBLE) / 3600 AS cpu_busy_hours,
  CAST(sum(interval_seconds * vcpus) AS DOUBLE) / 3600 AS vcpu_hours,
  CAST(sum(interval_seconds * vcpus * hepscore23_per_core) AS DOUBLE) / 3600 AS normalised_hours_hepscore23,
  CAST(sum(interval_seconds * vcpus * hs06_per_core) AS DOUBLE) / 3600 AS normalised_hours_hs06,
  CAST(sum(interval_seconds * vcpus * coalesce(hepscore23_per_core, hs06_per_core)) AS DOUBLE) / 3600
    AS normalised_hours,
  sum(net_rx_bytes) AS net_rx_bytes,
  sum(net_tx_bytes) AS net_tx_bytes
FROM intervals
GROUP BY
  site, resource, provider, account, region, instance_id, instance_type, project, vo, dt,
  CAST(interval_start AS DATE), measurement
