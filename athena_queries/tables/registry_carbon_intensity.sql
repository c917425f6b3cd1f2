-- registry_carbon_intensity: the carbon intensity of a site's electricity (grams CO2e per kWh)
-- over a validity interval [valid_from, valid_to) (valid_to null = still valid). Intervals of one
-- site never overlap, so a join on site and a time inside the interval matches at most one row.
-- Written whole by tally.registry (one small file).
CREATE EXTERNAL TABLE IF NOT EXISTS registry_carbon_intensity (
  entry_id string,
  site string,
  grams_co2e_per_kwh double,
  valid_from timestamp,
  valid_to timestamp,
  source string,
  note string,
  updated_at timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/registry/carbon_intensity/';
