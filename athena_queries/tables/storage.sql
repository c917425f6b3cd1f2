-- storage: storage usage snapshots per share, path and owner (EMI StAR semantics).
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC month (YYYY-MM) of end_time. tests/sql checks both against the writer.
CREATE EXTERNAL TABLE IF NOT EXISTS storage (
  site string,
  storage_system string,
  storage_share string,
  storage_media string,
  storage_class string,
  path string,
  owner string,
  `group` string,
  vo string,
  vo_group string,
  vo_role string,
  project string,
  start_time timestamp,
  end_time timestamp,
  file_count bigint,
  used_bytes bigint,
  logical_used_bytes bigint,
  allocated_bytes bigint,
  record_id string,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/storage/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM',
  'projection.dt.range' = '2000-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'MONTHS',
  'storage.location.template' = '{{warehouse_uri}}/storage/dt=${dt}/'
);
