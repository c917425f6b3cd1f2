-- vms: virtual machines, one row per instance and sampling interval.
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC date of interval_start. tests/sql checks both against the writer.
CREATE EXTERNAL TABLE IF NOT EXISTS vms (
  site string,
  resource string,
  provider string,
  account string,
  region string,
  instance_id string,
  instance_type string,
  image_id string,
  vm_name string,
  project string,
  vo string,
  global_user string,
  interval_start timestamp,
  interval_end timestamp,
  boot_time timestamp,
  uptime_seconds bigint,
  cpu_busy_seconds double,
  cpu_idle_seconds double,
  cpu_iowait_seconds double,
  cpu_steal_seconds double,
  vcpus bigint,
  memory_bytes bigint,
  net_rx_bytes bigint,
  net_tx_bytes bigint,
  state string,
  benchmark_type string,
  benchmark_per_core double,
  measurement string,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/vms/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2000-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = '{{warehouse_uri}}/vms/dt=${dt}/'
);
