-- cloud_cost_attributed: every commercial-cloud bill line with the Tally project it is charged to
-- and the VM Tally measured for it, so cloud cost sits beside HPC usage.
--
-- The project: the value of the first tag key of cost_attribution (in priority order, the key
-- matched whatever its case) that the line's tags hold, translated by the mapping's value rules
-- (matched whatever the value's case; an unmapped value is the project as tagged); else the
-- project of the VM Tally measured on that instance and day; else 'untagged'. attribution says
-- which: 'tag', 'vm' or 'untagged'. The VM: the bill's resource id reduced to its instance as
-- billed_vs_measured does (AWS i-..., an Azure VM path to its name, a GCP path to its last part),
-- joined on provider, instance and the day the charge starts with vms_instance_days (whose
-- instance ids are reduced the same way); site is that VM's site (NULL when none was measured).
-- Money stays in the line's billing currency: sums are per currency.
CREATE OR REPLACE VIEW cloud_cost_attributed AS
WITH lines AS (
  SELECT
    lower(provider) AS provider,
    billing_period,
    coalesce(sub_account_id, billing_account_id) AS account,
    charge_period_start,
    CAST(charge_period_start AS DATE) AS day,
    charge_category,
    service_name,
    resource_id,
    CASE
      WHEN resource_id IS NULL THEN NULL
      WHEN lower(provider) = 'aws'
        THEN lower(regexp_extract(resource_id, '(i-[0-9A-Za-z]+)$', 1))
      WHEN lower(provider) = 'azure' AND regexp_like(lower(resource_id), '/virtualmachinescalesets/[^/]+/virtualmachines/[^/]+$')
        THEN regexp_extract(lower(resource_id), '/virtualmachinescalesets/([^/]+)/', 1)
          || '_' || lower(regexp_extract(resource_id, '([^/]+)$', 1))
      WHEN lower(provider) = 'azure' AND regexp_like(lower(resource_id), '/virtualmachines/[^/]+$')
        THEN lower(regexp_extract(resource_id, '([^/]+)$', 1))
      WHEN lower(provider) = 'azure' THEN NULL
      ELSE lower(regexp_extract(resource_id, '([^/]+)$', 1))
    END AS instance_key,
    billing_currency AS currency,
    billed_cost,
    effective_cost,
    tags,
    source_file,
    source_row,
    source_subrow
  FROM billing
),
candidates AS (
  SELECT
    l.*,
    k.priority,
    k.tag_key,
    trim(regexp_extract(l.tags, k.key_pattern, 1)) AS tag_value
  FROM lines AS l
  LEFT JOIN cost_attribution AS k
    ON k.rule = 'key' AND l.tags IS NOT NULL AND regexp_like(l.tags, k.key_pattern)
),
chosen AS (
  SELECT
    c.*,
    row_number() OVER (
      PARTITION BY c.provider, c.billing_period, c.source_file, c.source_row, c.source_subrow
      ORDER BY CASE WHEN c.tag_value = '' THEN NULL ELSE c.priority END ASC NULLS LAST
    ) AS choice
  FROM candidates AS c
),
measured AS (
  SELECT
    lower(provider) AS provider,
    CASE
      WHEN lower(provider) = 'aws' AND regexp_like(instance_id, '(^|[:/])i-[0-9A-Za-z]+$')
        THEN lower(regexp_extract(instance_id, '(i-[0-9A-Za-z]+)$', 1))
      WHEN lower(provider) = 'azure' AND regexp_like(lower(instance_id), '/virtualmachinescalesets/[^/]+/virtualmachines/[^/]+$')
        THEN regexp_extract(lower(instance_id), '/virtualmachinescalesets/([^/]+)/', 1)
          || '_' || lower(regexp_extract(instance_id, '([^/]+)$', 1))
      ELSE lower(regexp_extract(instance_id, '([^/]+)$', 1))
    END AS instance_key,
    day,
    min(site) AS site,
    min(project) AS project,
    min(instance_id) AS instance_id
  FROM vms_instance_days
  GROUP BY 1, 2, 3
)
SELECT
  c.provider,
  c.billing_period,
  c.account,
  c.charge_period_start,
  c.day,
  c.charge_category,
  c.service_name,
  c.resource_id,
  c.instance_key,
  c.currency,
  c.billed_cost,
  c.effective_cost,
  CASE WHEN c.tag_value <> '' THEN c.tag_key END AS tag_key,
  CASE WHEN c.tag_value <> '' THEN c.tag_value END AS tag_value,
  coalesce(
    CASE WHEN c.tag_value <> '' THEN coalesce(v.project, c.tag_value) END, m.project, 'untagged'
  ) AS project,
  CASE
    WHEN c.tag_value <> '' THEN 'tag'
    WHEN m.project IS NOT NULL THEN 'vm'
    ELSE 'untagged'
  END AS attribution,
  m.site,
  m.instance_id AS measured_instance_id,
  m.instance_key IS NOT NULL AS measured
FROM chosen AS c
LEFT JOIN cost_attribution AS v
  ON v.rule = 'value' AND c.tag_value <> '' AND v.tag_value = lower(c.tag_value)
LEFT JOIN measured AS m
  ON m.provider = c.provider AND m.instance_key = c.instance_key AND m.day = c.day
WHERE c.choice = 1
