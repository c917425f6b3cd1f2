-- people_identities: who a usage record belongs to. One row per linked identity of a person
-- (tally.people): kind x509 or oidc match jobs' global_user; kind local matches local_user at the
-- site named in `namespace`. Valid from valid_from (inclusive) to valid_to (exclusive, NULL: open);
-- links of one name never overlap in time. Written whole by the people service on every change.
CREATE EXTERNAL TABLE IF NOT EXISTS people_identities (
  identity_id string,
  person_id string,
  kind string,
  namespace string,
  value string,
  valid_from timestamp,
  valid_to timestamp
)
STORED AS PARQUET
LOCATION '{{warehouse_uri}}/people/identities/';
