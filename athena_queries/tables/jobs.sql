-- jobs: ended batch and grid jobs, one row per job allocation.
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC month (YYYY-MM) of end_time. tests/sql checks both against the writer.
CREATE EXTERNAL TABLE IF NOT EXISTS jobs (
  site string,
  resource string,
  batch_system string,
  infrastructure string,
  local_job_id string,
  array_job_id string,
  array_index bigint,
  job_name string,
  local_user string,
  local_group string,
  global_user string,
  vo string,
  vo_group string,
  vo_role string,
  project string,
  queue string,
  qos string,
  application string,
  submit_time timestamp,
  start_time timestamp,
  end_time timestamp,
  wall_seconds bigint,
  cpu_seconds bigint,
  cores bigint,
  nodes bigint,
  gpus bigint,
  gpu_model string,
  memory_requested_bytes bigint,
  memory_max_bytes bigint,
  energy_joules bigint,
  state string,
  exit_code bigint,
  node_list string,
  benchmark_type string,
  benchmark_per_core double,
  cancelled_by string,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/jobs/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM',
  'projection.dt.range' = '2000-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'MONTHS',
  'storage.location.template' = '{{warehouse_uri}}/jobs/dt=${dt}/'
);
