-- registry_resources: the benchmark per core of a resource over a validity interval
-- [valid_from, valid_to) (valid_to null = still valid). One row per benchmark type, so a resource
-- may carry HEPscore23 and HS06 side by side. Written whole by tally.registry (one small file).
CREATE EXTERNAL TABLE IF NOT EXISTS registry_resources (
  entry_id string,
  site string,
  resource string,
  benchmark_type string,
  benchmark_per_core double,
  valid_from timestamp,
  valid_to timestamp,
  cores bigint,
  note string,
  updated_at timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/registry/resources/';
