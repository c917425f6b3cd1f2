-- jobs_classified: jobs_normalised (with its person, person_usage) with the application and whether it is commercial software.
--
-- A job's own application wins. Otherwise the registry's application rules decide: a rule matches
-- when each criterion it sets matches (queue, project, job name LIKE its pattern); the lowest
-- priority wins, then the smallest entry_id. Rules are matched once per distinct (site, queue,
-- project, job name), not once per job. commercial is true when a rule for the job's application
-- at its site says so, else false.
CREATE OR REPLACE VIEW jobs_classified AS
WITH unnamed AS (
  SELECT DISTINCT site, queue, project, job_name
  FROM jobs_dedup
  WHERE application IS NULL
),
ranked AS (
  SELECT
    u.site, u.queue, u.project, u.job_name, r.application,
    row_number() OVER (
      PARTITION BY u.site, u.queue, u.project, u.job_name
      ORDER BY r.priority, r.entry_id
    ) AS rule_rank
  FROM unnamed AS u
  JOIN registry_applications AS r
    ON r.site = u.site
    AND (r.queue IS NULL OR r.queue = u.queue)
    AND (r.project IS NULL OR r.project = u.project)
    AND (r.like_pattern IS NULL OR u.job_name LIKE r.like_pattern ESCAPE '\')
),
matched AS (
  SELECT site, queue, project, job_name, application FROM ranked WHERE rule_rank = 1
),
commercial_apps AS (
  SELECT site, application, bool_or(commercial) AS commercial
  FROM registry_applications
  GROUP BY site, application
),
named AS (
  SELECT
    n.site, n.resource, n.batch_system, n.infrastructure, n.local_job_id, n.array_job_id,
    n.array_index, n.job_name, n.local_user, n.local_group, n.global_user, n.vo, n.reported_vo,
    n.vo_group, n.vo_role, n.project, n.queue, n.qos,
    coalesce(n.application, m.application) AS application,
    n.application AS reported_application,
    n.submit_time, n.start_time, n.end_time, n.wall_seconds, n.cpu_seconds, n.cores, n.nodes,
    n.gpus, n.gpu_model, n.memory_requested_bytes, n.memory_max_bytes, n.energy_joules, n.state,
    n.exit_code, n.benchmark_type, n.benchmark_per_core, n.ingested_at, n.batch_id, n.dt,
    n.user_name, n.core_seconds, n.gpu_seconds, n.wait_seconds, n.hepscore23_per_core,
    n.hs06_per_core, n.normalisation_type, n.normalised_hepscore23_seconds,
    n.normalised_hs06_seconds, n.normalised_core_seconds, n.normalised_cpu_seconds, n.person_id
  FROM person_usage AS n
  LEFT JOIN matched AS m
    ON n.application IS NULL
    AND m.site = n.site
    AND m.queue IS NOT DISTINCT FROM n.queue
    AND m.project IS NOT DISTINCT FROM n.project
    AND m.job_name IS NOT DISTINCT FROM n.job_name
)
SELECT
  named.*,
  coalesce(c.commercial, false) AS commercial
FROM named
LEFT JOIN commercial_apps AS c ON c.site = named.site AND c.application = named.application
