-- registry_applications: rules that name the application of a job that does not say it itself.
-- A rule matches when every criterion it sets matches (queue, project, job-name glob, as the SQL
-- LIKE pattern like_pattern); the lowest priority wins. commercial marks licensed software.
CREATE EXTERNAL TABLE IF NOT EXISTS registry_applications (
  entry_id string,
  site string,
  application string,
  commercial boolean,
  queue string,
  project string,
  job_name_pattern string,
  like_pattern string,
  priority bigint,
  note string,
  updated_at timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/registry/applications/';
