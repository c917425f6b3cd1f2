-- registry_benchmarks: the registry's benchmark per core of each resource, by type, over its
-- validity interval [valid_from, valid_to) (valid_to null = still valid), for the types the views
-- normalise by: HEPscore23 and HS06. Intervals of one resource and type never overlap, so a
-- join on (site, resource, benchmark_type) and a time inside the interval matches at most one row.
-- jobs_normalised (at the job's end_time) and vms_instance_days (at the interval start) read it.
CREATE OR REPLACE VIEW registry_benchmarks AS
SELECT r.site, r.resource, r.benchmark_type, r.benchmark_per_core, r.valid_from, r.valid_to
FROM registry_resources AS r
WHERE r.benchmark_type IN ('HEPscore23', 'HS06')
