-- summaries_vs_jobs: per site and month, what a site's published job summaries say (summaries of
-- jobs, deduplicated) beside the individual job records Tally holds (jobs_dedup): the check APEL's
-- repository makes between a site's summaries and its records. A side with nothing is 0.
-- Month is YYYY-MM (the summary's month; the job's end month, as APEL summarises by EndTime).
CREATE OR REPLACE VIEW summaries_vs_jobs AS
WITH published AS (
  SELECT
    site, substr(CAST(month_start AS varchar), 1, 7) AS month,
    sum(record_count) AS jobs, sum(wall_seconds) AS wall_seconds, sum(cpu_seconds) AS cpu_seconds
  FROM summaries_dedup
  WHERE summary_of = 'jobs'
  GROUP BY 1, 2
),
held AS (
  SELECT
    site, substr(dt, 1, 7) AS month,
    count(*) AS jobs, sum(wall_seconds) AS wall_seconds, sum(cpu_seconds) AS cpu_seconds
  FROM jobs_dedup
  GROUP BY 1, 2
)
SELECT
  coalesce(p.site, h.site) AS site,
  coalesce(p.month, h.month) AS month,
  coalesce(p.jobs, 0) AS published_jobs,
  coalesce(h.jobs, 0) AS held_jobs,
  coalesce(p.wall_seconds, 0) AS published_wall_seconds,
  coalesce(h.wall_seconds, 0) AS held_wall_seconds,
  coalesce(p.cpu_seconds, 0) AS published_cpu_seconds,
  coalesce(h.cpu_seconds, 0) AS held_cpu_seconds,
  coalesce(p.jobs, 0) - coalesce(h.jobs, 0) AS jobs_difference,
  coalesce(p.jobs, 0) = coalesce(h.jobs, 0)
    AND coalesce(p.wall_seconds, 0) = coalesce(h.wall_seconds, 0)
    AND coalesce(p.cpu_seconds, 0) = coalesce(h.cpu_seconds, 0) AS in_sync
FROM published AS p
FULL OUTER JOIN held AS h ON p.site = h.site AND p.month = h.month
