-- billing: commercial-cloud bills, one row per line item normalised to FOCUS 1.2 columns
-- (tally.billing.focus_schema.BILLING_SCHEMA), money and quantities decimal(38,18) in
-- billing_currency (every digit as written; amounts with more places are rounded half-even and
-- their exact text kept in x_exact_amounts), timestamps UTC. Written by tally.services.billing at
--   billing/provider=<p>/billing_period=<YYYY-MM>/<delivery-id>-<account-hash>.parquet
-- Manifests live under billing/_manifests/ as .json: Athena skips folders starting with "_" and
-- DuckDB reads only *.parquet under provider=*/billing_period=*/, so they are never data.
--
-- Partitions: the Parquet files hold provider and billing_period as columns too, and Athena
-- refuses a partition column that shares its name with a data column. The table therefore lists
-- them only as partition keys (their values come from the key, which the writer derives from those
-- very columns: one file never mixes providers or periods); the other columns are BILLING_SCHEMA
-- in the writer's order. Parquet is read by column name, so the two extra columns in each file
-- are simply not read as data. This is what the Glue table of template.yaml declares.
--
-- Projection values are CloudFormation parameters (infra/glue_tables.py keeps them for Fn::Sub;
-- tally.query.ddl.render_ddl fills them for a plain Athena DDL): BillingStartMonth is the first
-- month to look at, BillingProviders the provider folders Athena can see. A provider missing from
-- that list (e.g. a FOCUS file from a provider with no slug of its own) is stored but invisible
-- to Athena until it is added; the local DuckDB engine reads every provider folder.
CREATE EXTERNAL TABLE IF NOT EXISTS billing (
  billing_period_start timestamp,
  billing_period_end timestamp,
  charge_period_start timestamp,
  charge_period_end timestamp,
  billing_account_id string,
  billing_account_name string,
  sub_account_id string,
  sub_account_name string,
  charge_category string,
  charge_class string,
  charge_description string,
  charge_frequency string,
  pricing_category string,
  billing_currency string,
  consumed_unit string,
  pricing_unit string,
  resource_id string,
  resource_name string,
  resource_type string,
  service_name string,
  service_category string,
  provider_name string,
  publisher_name string,
  invoice_issuer_name string,
  region_id string,
  availability_zone string,
  sku_id string,
  sku_price_id string,
  commitment_discount_id string,
  commitment_discount_type string,
  commitment_discount_status string,
  capacity_reservation_id string,
  invoice_id string,
  tags string,
  billed_cost decimal(38,18),
  effective_cost decimal(38,18),
  list_cost decimal(38,18),
  contracted_cost decimal(38,18),
  list_unit_price decimal(38,18),
  contracted_unit_price decimal(38,18),
  consumed_quantity decimal(38,18),
  pricing_quantity decimal(38,18),
  x_instance_type string,
  x_usage_type string,
  x_operation string,
  x_line_item_type string,
  x_purchase_option string,
  x_vm_name string,
  x_line_item_id string,
  x_quirks string,
  x_exact_amounts string,
  source_file string,
  source_row bigint,
  source_subrow smallint,
  source_format string
)
PARTITIONED BY (provider string, billing_period string)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/billing/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.provider.type' = 'enum',
  'projection.provider.values' = '${BillingProviders}',
  'projection.billing_period.type' = 'date',
  'projection.billing_period.format' = 'yyyy-MM',
  'projection.billing_period.range' = '${BillingStartMonth},NOW+1MONTHS',
  'projection.billing_period.interval' = '1',
  'projection.billing_period.interval.unit' = 'MONTHS',
  'storage.location.template' = '{{warehouse_uri}}/billing/provider=${provider}/billing_period=${billing_period}/'
);
