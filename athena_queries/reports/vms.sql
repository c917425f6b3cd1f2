-- The rows the vms report aggregates: one per VM instance and day (vms_instance_days).
SELECT
  site, resource, provider, account, region, instance_type, project, vo, instance_id,
  CAST(day AS TIMESTAMP) AS event_time, dt,
  measured_hours, cpu_busy_hours, vcpu_hours,
  normalised_hours_hepscore23, normalised_hours_hs06, normalised_hours, net_rx_bytes, net_tx_bytes
FROM vms_instance_days
