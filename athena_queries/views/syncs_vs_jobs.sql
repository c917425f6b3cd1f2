-- syncs_vs_jobs: per site, submit host (resource) and month, the job count a site's sync records
-- state (syncs, deduplicated) beside the job records Tally holds (jobs_dedup), as APEL's sync
-- check compares them, for every month a site stated; a sync record without a submit host
-- (resource empty) counts the site's whole month. Hosts Tally holds jobs of but the site did not
-- state are "not stated".
CREATE OR REPLACE VIEW syncs_vs_jobs AS
WITH stated AS (
  SELECT site, resource, substr(CAST(month_start AS varchar), 1, 7) AS month, sum(record_count) AS jobs
  FROM syncs_dedup
  GROUP BY 1, 2, 3
),
stated_months AS (
  SELECT DISTINCT site, month FROM stated
),
site_wide AS (
  SELECT DISTINCT site, month FROM stated WHERE resource = ''
),
held_by_host AS (
  SELECT site, resource, substr(dt, 1, 7) AS month, count(*) AS jobs
  FROM jobs_dedup
  GROUP BY 1, 2, 3
),
held AS (
  SELECT h.site, h.resource, h.month, h.jobs
  FROM held_by_host AS h
  JOIN stated_months AS m ON m.site = h.site AND m.month = h.month
  UNION ALL
  -- The site's month as a whole, for sync records that name no submit host.
  SELECT h.site, '' AS resource, h.month, sum(h.jobs) AS jobs
  FROM held_by_host AS h
  JOIN site_wide AS w ON w.site = h.site AND w.month = h.month
  GROUP BY 1, 2, 3
)
SELECT
  coalesce(s.site, h.site) AS site,
  coalesce(s.resource, h.resource) AS resource,
  coalesce(s.month, h.month) AS month,
  s.jobs AS stated_jobs,
  coalesce(h.jobs, 0) AS held_jobs,
  CASE
    WHEN s.jobs IS NULL THEN 'not stated'
    WHEN s.jobs = coalesce(h.jobs, 0) THEN 'in sync'
    ELSE 'out of sync'
  END AS status
FROM stated AS s
FULL OUTER JOIN held AS h ON s.site = h.site AND s.resource = h.resource AND s.month = h.month
