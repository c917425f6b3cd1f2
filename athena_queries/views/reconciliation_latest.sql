-- reconciliation_latest: the invoice verifier's current verdicts, i.e. the rows of the latest run of
-- each billing period (tally.services.reconcile keeps every run: the daily schedule judges one more
-- closed day per run, and a restated or re-delivered bill gives a new run id).
--
-- The latest run of a period is the one judged last (largest judged_at, which every row of a run
-- shares); on a tie the larger run_id wins, so the choice is deterministic. Periods are independent:
-- a run of 2026-03 never hides 2026-02's rows. Columns are the reconciliation table's, unchanged
-- (dt included), for both kinds: one row per instance-day (kind = 'instance_day') and one per
-- invoice and currency (kind = 'invoice'). reconciliation_changes compares it with the run before.
CREATE OR REPLACE VIEW reconciliation_latest AS
WITH runs AS (
  SELECT billing_period, run_id, max(judged_at) AS judged_at
  FROM reconciliation
  GROUP BY billing_period, run_id
),
ranked AS (
  SELECT
    billing_period,
    run_id,
    row_number() OVER (PARTITION BY billing_period ORDER BY judged_at DESC, run_id DESC) AS run_rank
  FROM runs
)
SELECT
  r.run_id, r.kind, r.provider, r.account, r.resource_id, r.instance_id, r.day, r.billing_period,
  r.billed_hours, r.measured_hours, r.cpu_hours, r.vcpus, r.cost, r.effective_cost, r.flagged_cost,
  r.currency, r.verdict, r.detail, r.judged_at, r.dt
FROM reconciliation AS r
JOIN ranked AS k
  ON k.billing_period = r.billing_period AND k.run_id = r.run_id AND k.run_rank = 1
