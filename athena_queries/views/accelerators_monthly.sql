-- accelerators_monthly: accelerator use per UTC month of the interval start, site, resource,
-- type, vendor, model, VO and project. device_hours = allocated seconds x device count / 3600;
-- active_device_hours counts only intervals that report active seconds; mean_utilisation_percent
-- is weighted by allocated device time over the intervals that report a utilisation;
-- normalised_hours = device hours x the record's benchmark per unit (where it has one).
CREATE OR REPLACE VIEW accelerators_monthly AS
SELECT
  site, resource, accelerator_type, vendor, model, vo, project,
  CAST(date_trunc('month', interval_start) AS DATE) AS month,
  count(*) AS intervals,
  count(DISTINCT associated_id) AS allocations,
  CAST(sum(allocated_seconds * "count") AS DOUBLE) / 3600 AS device_hours,
  CAST(sum(active_seconds * "count") AS DOUBLE) / 3600 AS active_device_hours,
  CAST(sum(utilisation_percent * allocated_seconds * "count") AS DOUBLE)
    / nullif(sum(CASE WHEN utilisation_percent IS NOT NULL THEN allocated_seconds * "count" END), 0)
    AS mean_utilisation_percent,
  CAST(sum(allocated_seconds * "count" * benchmark_per_unit) AS DOUBLE) / 3600 AS normalised_hours
FROM accelerators_dedup
GROUP BY
  site, resource, accelerator_type, vendor, model, vo, project,
  CAST(date_trunc('month', interval_start) AS DATE)
