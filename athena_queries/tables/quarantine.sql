-- quarantine: every record the ingest refused, one NDJSON line each, with its reasons.
-- Key layout: quarantine/<kind>/dt=<UTC date received>/<batch-id>.ndjson (see tally.services.ingest);
-- the billing store writes quarantine/billing/dt=<date>/<delivery-id>[.error].ndjson the same way
-- (batch_id is the delivery id, index the source row; its extra fields origin, source_file,
-- source_format and rule_id are not columns here, the rule ids are also in errors[].field).
-- The kind folder is the partition record_kind (Athena does not allow a partition column to share
-- its name with the `kind` field inside each line).
CREATE EXTERNAL TABLE IF NOT EXISTS quarantine (
  batch_id string,
  site string,
  kind string,
  `index` bigint,
  received_at string,
  errors array<struct<field:string,message:string>>,
  record string
)
PARTITIONED BY (record_kind string, dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS TEXTFILE
LOCATION '{{warehouse_uri}}/quarantine/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.record_kind.type' = 'enum',
  'projection.record_kind.values' = 'jobs,vms,storage,accelerators,summaries,syncs,grid_identities,billing',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2000-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = '{{warehouse_uri}}/quarantine/${record_kind}/dt=${dt}/'
);
