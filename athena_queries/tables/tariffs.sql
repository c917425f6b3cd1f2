-- tariffs: the price list. One row is the rate of one unit (core_hour, gpu_hour, vm_vcpu_hour,
-- vm_gb_hour, storage_tb_month) of one resource, optionally for one project class, over a validity
-- interval [valid_from, valid_to) (valid_to null = still valid), in an ISO 4217 currency. Written
-- whole by tally.money (one small file); no two rows of one resource, unit, GPU model and project
-- class overlap in time.
CREATE EXTERNAL TABLE IF NOT EXISTS tariffs (
  tariff_id string,
  site string,
  resource string,
  unit string,
  benchmark string,
  gpu_model string,
  project_class string,
  rate decimal(38,18),
  currency string,
  valid_from timestamp,
  valid_to timestamp,
  note string,
  updated_at timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/money/tariffs/';
