-- The rows the accelerators report aggregates: one per deduplicated allocation interval.
SELECT
  site, resource, accelerator_type, vendor, model, vo, project, associated_kind,
  interval_start AS event_time, dt, associated_id,
  allocated_seconds * "count" AS device_seconds,
  active_seconds * "count" AS active_device_seconds,
  utilisation_percent,
  CASE WHEN utilisation_percent IS NOT NULL THEN allocated_seconds * "count" END AS utilised_basis_seconds,
  allocated_seconds * "count" * benchmark_per_unit AS normalised_device_seconds
FROM accelerators_dedup
