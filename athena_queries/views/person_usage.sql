-- person_usage: jobs_normalised with the person each job belongs to, resolved through the links of
-- people_identities valid at the job's end_time: its global_user (DN or federated subject), else its
-- local_user at its site. A login reused later by someone else is a new link from a later time, so
-- the two are never merged. person_id is NULL for jobs of nobody known.
CREATE OR REPLACE VIEW person_usage AS
SELECT
  n.*,
  coalesce(g.person_id, l.person_id) AS person_id
FROM jobs_normalised AS n
LEFT JOIN people_identities AS g
  ON g.kind IN ('x509', 'oidc')
  AND g.value = n.global_user
  AND n.end_time >= g.valid_from
  AND (g.valid_to IS NULL OR n.end_time < g.valid_to)
LEFT JOIN people_identities AS l
  ON l.kind = 'local'
  AND l.namespace = n.site
  AND l.value = n.local_user
  AND n.end_time >= l.valid_from
  AND (l.valid_to IS NULL OR n.end_time < l.valid_to)
