-- grid_identities: BLAH/CREAM accounting lines, the grid identity (DN, VOMS FQAN) of each batch job
-- a computing element submitted; joined to jobs by jobs_identified.
-- Columns are the record contract (tally.domain.records) plus ingested_at and batch_id, in the
-- writer's order; dt is the UTC date of submit_time. tests/sql checks both against the writer.
CREATE EXTERNAL TABLE IF NOT EXISTS grid_identities (
  site string,
  resource string,
  lrms_id string,
  submit_time timestamp,
  global_user string,
  fqan string,
  vo string,
  vo_group string,
  vo_role string,
  ce string,
  grid_job_id string,
  local_user string,
  ingested_at timestamp,
  batch_id string
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/grid_identities/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2000-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = '{{warehouse_uri}}/grid_identities/dt=${dt}/'
);
