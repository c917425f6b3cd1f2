-- syncs: how many jobs a site (and submit host) says it has per month (APEL sync records).
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC month (YYYY-MM) of month_start. tests/sql checks both against the writer.
CREATE EXTERNAL TABLE IF NOT EXISTS syncs (
  site string,
  resource string,
  month_start timestamp,
  record_count bigint,
  message_type string,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/syncs/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM',
  'projection.dt.range' = '2000-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'MONTHS',
  'storage.location.template' = '{{warehouse_uri}}/syncs/dt=${dt}/'
);
