-- billed_vs_measured: billed instance-hours against measured hours per provider, account,
-- instance and UTC day, for analysts (the verifier's verdicts are in the reconciliation table).
--
-- Billed: Usage lines bought on demand, spot, dedicated, or covered by a reservation or savings
-- plan, metered in hours; never fees, purchases, tax, credits, corrections or AWS savings-plan
-- negation lines. A line counts in the day its charge period starts (provider lines are hourly or
-- daily). The instance is the bill's resource id reduced to the instance (instance_keys, side
-- 'billed': an AWS ARN or id to i-..., an Azure VM path to its name, a scale-set VM to <set>_<n>,
-- a GCP instance path to its id); a line whose resource is not an instance is left out.
-- Money stays in its billing currency: an instance-day billed in two currencies has two rows.
-- Measured: vms_instance_days (an interval counts in the day it starts), joined on the provider,
-- the instance and the day. The agent's instance id is reduced the same way when it is itself an
-- ARN or a resource path (an Azure agent reports the VM's full resource id), else lower-cased
-- (instance_keys, side 'measured'; tally.reconcile.ids.measured_instance_key in the verifier).
CREATE OR REPLACE VIEW billed_vs_measured AS
WITH lines AS (
  SELECT
    lower(b.provider) AS provider,
    coalesce(b.sub_account_id, b.billing_account_id) AS account,
    b.resource_id,
    k.instance_key,
    CAST(charge_period_start AS DATE) AS day,
    billing_currency AS currency,
    CASE
      WHEN lower(coalesce(consumed_unit, pricing_unit)) IN ('hrs', 'hr', 'hours', 'hour', 'h')
        THEN CAST(coalesce(consumed_quantity, pricing_quantity) AS DOUBLE)
      WHEN lower(coalesce(consumed_unit, pricing_unit)) IN ('seconds', 'second', 's')
        THEN CAST(coalesce(consumed_quantity, pricing_quantity) AS DOUBLE) / 3600e0
    END AS hours,
    billed_cost,
    effective_cost
  FROM billing AS b
  LEFT JOIN instance_keys AS k
    ON k.side = 'billed' AND k.provider = lower(b.provider) AND k.ref = b.resource_id
    AND k.vm_name = coalesce(b.x_vm_name, '')
  WHERE b.charge_category = 'Usage'
    AND b.x_purchase_option IN ('on_demand', 'spot', 'dedicated', 'reserved', 'savings_plan')
    AND coalesce(b.x_line_item_type, '') <> 'SavingsPlanNegation'
    AND coalesce(b.charge_class, '') <> 'Correction'
    AND b.resource_id IS NOT NULL
),
billed AS (
  SELECT
    provider, instance_key, day, currency,
    min(account) AS account,
    min(resource_id) AS resource_id,
    count(*) AS bill_lines,
    sum(hours) AS billed_hours,
    sum(billed_cost) AS billed_cost,
    sum(effective_cost) AS effective_cost
  FROM lines
  WHERE hours IS NOT NULL AND instance_key IS NOT NULL AND instance_key <> ''
  GROUP BY provider, instance_key, day, currency
),
instance_days AS (
  SELECT
    lower(d.provider) AS provider,
    k.instance_key,
    d.day, d.account, d.instance_id, d.samples, d.measured_hours, d.cpu_busy_hours, d.vcpu_hours,
    d.normalised_hours_hepscore23, d.normalised_hours_hs06
  FROM vms_instance_days AS d
  LEFT JOIN instance_keys AS k
    ON k.side = 'measured' AND k.provider = lower(d.provider) AND k.ref = d.instance_id AND k.vm_name = ''
),
measured AS (
  SELECT
    provider,
    instance_key,
    day,
    min(account) AS account,
    min(instance_id) AS instance_id,
    sum(samples) AS samples,
    sum(measured_hours) AS measured_hours,
    sum(cpu_busy_hours) AS cpu_busy_hours,
    sum(vcpu_hours) AS vcpu_hours,
    sum(normalised_hours_hepscore23) AS normalised_hours_hepscore23,
    sum(normalised_hours_hs06) AS normalised_hours_hs06
  FROM instance_days
  GROUP BY provider, instance_key, day
)
SELECT
  coalesce(b.provider, m.provider) AS provider,
  coalesce(m.account, b.account) AS account,
  coalesce(b.instance_key, m.instance_key) AS instance_key,
  b.resource_id,
  m.instance_id,
  coalesce(b.day, m.day) AS day,
  b.currency,
  b.bill_lines,
  coalesce(b.billed_hours, 0e0) AS billed_hours,
  coalesce(m.measured_hours, 0e0) AS measured_hours,
  coalesce(b.billed_hours, 0e0) - coalesce(m.measured_hours, 0e0) AS difference_hours,
  m.cpu_busy_hours,
  m.vcpu_hours,
  m.normalised_hours_hepscore23,
  m.normalised_hours_hs06,
  b.billed_cost,
  b.effective_cost,
  CASE
    WHEN b.instance_key IS NULL THEN 'measured_only'
    WHEN m.instance_key IS NULL THEN 'billed_only'
    ELSE 'both'
  END AS presence
FROM billed AS b
FULL OUTER JOIN measured AS m
  ON m.provider = b.provider AND m.instance_key = b.instance_key AND m.day = b.day
