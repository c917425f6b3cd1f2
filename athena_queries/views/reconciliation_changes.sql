-- reconciliation_changes: what the latest run of each billing period changed against the run before
-- it (so finance sees what a restated or re-delivered bill, or late agent data, changed): one row per
-- instance-day or invoice whose verdict, billed hours or cost differs between the two runs, or that
-- only one of them has. A period judged by a single run has no rows.
--
-- Runs: the latest run is reconciliation_latest's (largest judged_at, then largest run_id); the
-- previous run is the one ranked next by the same order among the period's other runs.
-- Matching: an invoice row by (provider, account, invoice id = resource_id, currency). An
-- instance-day row (resource_id: the bill's id, else the agent's; instance_id: the agent's, when
-- measured) first by (provider, day, instance_key), instance_key being the key the verifier stored
-- with the row (tally.reconcile.ids.verdict_instance_key: resource_id reduced to the instance, an
-- AWS ARN or id to i-..., an Azure scale-set VM path to <set>_<n>, any other path to its last
-- part, lower-cased). Files written before the key was stored read it as NULL: for those rows
-- only, the key is instance_keys' (side 'measured', the same rule in SQL), so their runs still
-- compare with new ones. Then the rows left over on both sides by (provider, day, instance_id), where that id is on exactly one left-over row of each run. So an
-- instance-day judged measured_not_billed under the agent's id that a restated bill now bills under
-- its ARN or resource path (even one the agent does not know, an Azure vmId against the VM name)
-- is one changed row, not a removed and an added one.
-- change: 'changed' (in both runs, one of verdict_changed, billed_hours_changed, cost_changed is
-- true), 'added' (only in the latest run), 'removed' (only in the previous run). The daily schedule
-- judges one more closed day per run: an instance-day after the last day the previous run judged
-- (its largest instance-day `day`) is a newly judged day, not a change, and is left out; added
-- instance-days on or before it are listed.
-- billed_hours_changed ignores differences below 1e-6 h (summation order); cost_changed compares the
-- decimals exactly and also counts a change of currency; cost_difference is latest minus previous
-- (a missing side counts as 0), NULL when the two rows are in different currencies.
CREATE OR REPLACE VIEW reconciliation_changes AS
WITH latest_run AS (
  SELECT billing_period, max(run_id) AS run_id, max(judged_at) AS judged_at
  FROM reconciliation_latest
  GROUP BY billing_period
),
other_runs AS (
  SELECT r.billing_period, r.run_id, max(r.judged_at) AS judged_at
  FROM reconciliation AS r
  JOIN latest_run AS l ON l.billing_period = r.billing_period AND r.run_id <> l.run_id
  GROUP BY r.billing_period, r.run_id
),
previous_run AS (
  SELECT billing_period, run_id, judged_at
  FROM (
    SELECT
      billing_period, run_id, judged_at,
      row_number() OVER (PARTITION BY billing_period ORDER BY judged_at DESC, run_id DESC) AS run_rank
    FROM other_runs
  ) AS ranked
  WHERE run_rank = 1
),
both_runs AS (
  SELECT
    'latest' AS side, r.kind, r.provider, r.account, r.resource_id, r.instance_id, r.day,
    r.billing_period, r.billed_hours, r.cost, r.currency, r.verdict, r.detail, r.instance_key
  FROM reconciliation AS r
  JOIN latest_run AS l ON l.billing_period = r.billing_period AND l.run_id = r.run_id
  UNION ALL
  SELECT
    'previous' AS side, r.kind, r.provider, r.account, r.resource_id, r.instance_id, r.day,
    r.billing_period, r.billed_hours, r.cost, r.currency, r.verdict, r.detail, r.instance_key
  FROM reconciliation AS r
  JOIN previous_run AS p ON p.billing_period = r.billing_period AND p.run_id = r.run_id
),
keyed AS (
  SELECT
    r.side, r.kind, r.provider, r.account, r.resource_id, r.instance_id, r.day, r.billing_period,
    r.billed_hours, r.cost, r.currency, r.verdict, r.detail,
    CASE
      WHEN r.instance_key IS NOT NULL THEN r.instance_key
      WHEN r.kind = 'invoice' THEN r.resource_id
      ELSE k.instance_key
    END AS instance_key,
    CASE WHEN r.kind = 'invoice' THEN coalesce(r.account, '') ELSE '' END AS match_account,
    CASE WHEN r.kind = 'invoice' THEN coalesce(r.currency, '') ELSE '' END AS match_currency
  FROM both_runs AS r
  LEFT JOIN instance_keys AS k
    ON r.instance_key IS NULL AND r.kind = 'instance_day' AND k.side = 'measured'
    AND k.provider = lower(r.provider) AND k.ref = r.resource_id AND k.vm_name = ''
),
latest AS (SELECT * FROM keyed WHERE side = 'latest'),
previous AS (SELECT * FROM keyed WHERE side = 'previous'),
first_pass AS (
  SELECT l.billing_period, l.provider, l.day, l.instance_key
  FROM latest AS l
  JOIN previous AS p
    ON p.billing_period = l.billing_period
    AND p.kind = l.kind
    AND p.provider = l.provider
    AND p.instance_key = l.instance_key
    AND p.day = l.day
    AND p.match_account = l.match_account
    AND p.match_currency = l.match_currency
  WHERE l.kind = 'instance_day'
),
latest_left AS (
  SELECT l.billing_period, l.provider, l.day, l.instance_id, min(l.instance_key) AS instance_key,
    count(*) AS n
  FROM latest AS l
  LEFT JOIN first_pass AS f
    ON f.billing_period = l.billing_period AND f.provider = l.provider AND f.day = l.day
    AND f.instance_key = l.instance_key
  WHERE l.kind = 'instance_day' AND l.instance_id IS NOT NULL AND f.day IS NULL
  GROUP BY l.billing_period, l.provider, l.day, l.instance_id
),
previous_left AS (
  SELECT p.billing_period, p.provider, p.day, p.instance_id, min(p.instance_key) AS instance_key,
    count(*) AS n
  FROM previous AS p
  LEFT JOIN first_pass AS f
    ON f.billing_period = p.billing_period AND f.provider = p.provider AND f.day = p.day
    AND f.instance_key = p.instance_key
  WHERE p.kind = 'instance_day' AND p.instance_id IS NOT NULL AND f.day IS NULL
  GROUP BY p.billing_period, p.provider, p.day, p.instance_id
),
second_pass AS (
  SELECT l.billing_period, l.provider, l.day, l.instance_key, p.instance_key AS previous_key
  FROM latest_left AS l
  JOIN previous_left AS p
    ON p.billing_period = l.billing_period AND p.provider = l.provider AND p.day = l.day
    AND p.instance_id = l.instance_id
  WHERE l.n = 1 AND p.n = 1
),
latest_paired AS (
  SELECT
    l.*,
    CASE WHEN s.previous_key IS NOT NULL THEN s.previous_key ELSE l.instance_key END AS previous_key
  FROM latest AS l
  LEFT JOIN second_pass AS s
    ON l.kind = 'instance_day' AND s.billing_period = l.billing_period AND s.provider = l.provider
    AND s.day = l.day AND s.instance_key = l.instance_key
),
previous_cover AS (
  SELECT billing_period, max(day) AS last_day
  FROM previous
  WHERE kind = 'instance_day'
  GROUP BY billing_period
),
compared AS (
  SELECT
    coalesce(l.billing_period, p.billing_period) AS billing_period,
    coalesce(l.kind, p.kind) AS kind,
    CASE WHEN p.kind IS NULL THEN 'added' WHEN l.kind IS NULL THEN 'removed' ELSE 'changed' END AS change,
    coalesce(l.provider, p.provider) AS provider,
    coalesce(l.account, p.account) AS account,
    coalesce(l.instance_key, p.instance_key) AS instance_key,
    coalesce(l.resource_id, p.resource_id) AS resource_id,
    coalesce(l.instance_id, p.instance_id) AS instance_id,
    coalesce(l.day, p.day) AS day,
    p.verdict AS previous_verdict,
    l.verdict AS latest_verdict,
    coalesce(l.verdict <> p.verdict, false) AS verdict_changed,
    p.billed_hours AS previous_billed_hours,
    l.billed_hours AS latest_billed_hours,
    CASE
      WHEN l.kind IS NULL OR p.kind IS NULL THEN false
      WHEN l.billed_hours IS NULL AND p.billed_hours IS NULL THEN false
      WHEN l.billed_hours IS NULL OR p.billed_hours IS NULL THEN true
      ELSE abs(l.billed_hours - p.billed_hours) > 1e-6
    END AS billed_hours_changed,
    p.cost AS previous_cost,
    l.cost AS latest_cost,
    p.currency AS previous_currency,
    l.currency AS latest_currency,
    CASE
      WHEN l.kind IS NULL OR p.kind IS NULL THEN false
      ELSE l.cost IS DISTINCT FROM p.cost OR l.currency IS DISTINCT FROM p.currency
    END AS cost_changed,
    CASE
      WHEN l.currency IS NOT NULL AND p.currency IS NOT NULL AND l.currency <> p.currency THEN NULL
      ELSE coalesce(l.cost, CAST(0 AS decimal(38, 18))) - coalesce(p.cost, CAST(0 AS decimal(38, 18)))
    END AS cost_difference,
    p.detail AS previous_detail,
    l.detail AS latest_detail
  FROM latest_paired AS l
  FULL OUTER JOIN previous AS p
    ON p.billing_period = l.billing_period
    AND p.kind = l.kind
    AND p.provider = l.provider
    AND p.instance_key = l.previous_key
    AND p.day = l.day
    AND p.match_account = l.match_account
    AND p.match_currency = l.match_currency
)
SELECT
  c.billing_period, c.kind, c.change, c.provider, c.account, c.instance_key, c.resource_id,
  c.instance_id, c.day,
  pr.run_id AS previous_run_id, lr.run_id AS latest_run_id,
  pr.judged_at AS previous_judged_at, lr.judged_at AS latest_judged_at,
  c.previous_verdict, c.latest_verdict, c.verdict_changed,
  c.previous_billed_hours, c.latest_billed_hours, c.billed_hours_changed,
  c.previous_cost, c.latest_cost, c.previous_currency, c.latest_currency, c.cost_changed,
  c.cost_difference, c.previous_detail, c.latest_detail
FROM compared AS c
JOIN latest_run AS lr ON lr.billing_period = c.billing_period
JOIN previous_run AS pr ON pr.billing_period = c.billing_period
LEFT JOIN previous_cover AS pc ON pc.billing_period = c.billing_period
WHERE (c.change = 'changed' AND (c.verdict_changed OR c.billed_hours_changed OR c.cost_changed))
  OR c.change = 'removed'
  OR (c.change = 'added' AND (c.kind = 'invoice' OR pc.last_day IS NULL OR c.day <= pc.last_day))
