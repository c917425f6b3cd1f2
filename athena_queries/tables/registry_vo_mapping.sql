-- registry_vo_mapping: the VO of jobs that carry none, from their project (account) or local group.
-- match_field is 'project' or 'local_group'; a project mapping wins over a group mapping.
CREATE EXTERNAL TABLE IF NOT EXISTS registry_vo_mapping (
  entry_id string,
  site string,
  match_field string,
  match_value string,
  vo string,
  note string,
  updated_at timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/registry/vo_mapping/';
