-- summaries: monthly summaries of jobs and VMs as publishers sent them (APEL summary, normalised
-- summary and cloud summary records).
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC month (YYYY-MM) of month_start. tests/sql checks both against the writer.
CREATE EXTERNAL TABLE IF NOT EXISTS summaries (
  site string,
  summary_of string,
  resource string,
  month_start timestamp,
  global_user string,
  vo string,
  vo_group string,
  vo_role string,
  infrastructure string,
  infrastructure_description string,
  node_count bigint,
  processors bigint,
  status string,
  cloud_type string,
  image_id string,
  cpu_count double,
  earliest_time timestamp,
  latest_time timestamp,
  wall_seconds bigint,
  cpu_seconds bigint,
  record_count bigint,
  benchmark_type string,
  benchmark_per_core double,
  normalised_wall_seconds double,
  normalised_cpu_seconds double,
  message_type string,
  extra string,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/summaries/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM',
  'projection.dt.range' = '2000-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'MONTHS',
  'storage.location.template' = '{{warehouse_uri}}/summaries/dt=${dt}/'
);
