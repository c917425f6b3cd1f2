-- accelerators: GPU and FPGA allocation or usage intervals, tied to a job or a VM.
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC month (YYYY-MM) of interval_start. tests/sql checks both
CREATE EXTERNAL TABLE IF NOT EXISTS accelerators (
  site string,
  resource string,
  associated_kind string,
  associated_id string,
  accelerator_type string,
  vendor string,
  model string,
  count bigint,
  interval_start timestamp,
  interval_end timestamp,
  allocated_seconds bigint,
  active_seconds bigint,
  utilisation_percent double,
  memory_bytes bigint,
  local_user string,
  global_user string,
  vo string,
  project string,
  benchmark_type string,
  benchmark_per_unit double,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/accelerators/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM',
  'projection.dt.range' = '2000-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'MONTHS',
  'storage.location.template' = '{{warehouse_uri}}/accelerators/dt=${dt}/'
);
