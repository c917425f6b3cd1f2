-- cost_attribution: the tag-to-project mapping of commercial-cloud cost (tally.money.cost_rules).
-- rule 'key': a tag key naming a line's project, priority 0 first, key_pattern the regular
-- expression whose group 1 is its value in the line's tags (case-insensitive on the key); rule
-- 'value': a tag value (lower-cased) and the Tally project it stands for. Written whole (one file).
CREATE EXTERNAL TABLE IF NOT EXISTS cost_attribution (
  rule string,
  priority int,
  tag_key string,
  key_pattern string,
  tag_value string,
  project string,
  updated_at timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/money/cost_attribution/';
