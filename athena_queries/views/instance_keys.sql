-- instance_keys: the instance key of every instance reference Tally holds, derived here once for
-- every view (billed_vs_measured, reconciliation_changes); tally.reconcile.ids is the same rule in
-- Python (the verifier's, which stores it with each reconciliation row), and
-- tests/reconcile/test_instance_keys_view.py checks the two agree.
--
-- side 'billed': a bill line's resource_id (with its x_vm_name; vm_name is '' when it has none)
-- reduced to the instance, or NULL when the resource is not a VM instance: AWS, an ARN or id
-- ending in i-...; Azure, a VM path to its name, a scale-set VM path to <set>_<n>, a scale-set path
-- to the line's VM name; GCP, a path ending /instances/<id> to the id, any other path to NULL, a
-- bare name to itself; any other provider, the last part of a path.
-- side 'measured': an agent's instance id (vms) or an old reconciliation row's resource_id (files
-- written before the verifier stored the key): reduced as a bill's id when that gives an instance
-- (an Azure agent reports the VM's full resource id), else its last part. Keys are lower case.
CREATE OR REPLACE VIEW instance_keys AS
WITH refs AS (
  SELECT DISTINCT 'billed' AS side, lower(provider) AS provider, resource_id AS ref,
    coalesce(x_vm_name, '') AS vm_name
  FROM billing
  WHERE resource_id IS NOT NULL
  UNION
  SELECT DISTINCT 'measured' AS side, lower(provider) AS provider, instance_id AS ref, '' AS vm_name
  FROM vms
  WHERE instance_id IS NOT NULL
  UNION
  SELECT DISTINCT 'measured' AS side, lower(provider) AS provider, resource_id AS ref, '' AS vm_name
  FROM reconciliation
  WHERE kind = 'instance_day' AND instance_key IS NULL AND resource_id IS NOT NULL
),
reduced AS (
  SELECT
    side, provider, ref, vm_name,
    CASE
      WHEN provider = 'aws' AND regexp_like(lower(ref), '(^|[:/])i-[0-9a-z]+$')
        THEN regexp_extract(lower(ref), '(i-[0-9a-z]+)$', 1)
      WHEN provider = 'aws' THEN NULL
      WHEN provider = 'azure'
        AND regexp_like(lower(ref), '/providers/microsoft[.]compute/virtualmachinescalesets/[^/]+/virtualmachines/[^/]+$')
        THEN regexp_extract(lower(ref), '/virtualmachinescalesets/([^/]+)/virtualmachines/[^/]+$', 1)
          || '_' || regexp_extract(lower(ref), '([^/]+)$', 1)
      WHEN provider = 'azure' AND regexp_like(lower(ref), '/providers/microsoft[.]compute/virtualmachines/[^/]+$')
        THEN regexp_extract(lower(ref), '([^/]+)$', 1)
      WHEN provider = 'azure' AND regexp_like(lower(ref), '/providers/microsoft[.]compute/virtualmachinescalesets/[^/]+$')
        THEN nullif(lower(trim(vm_name)), '')
      WHEN provider = 'azure' THEN NULL
      WHEN provider = 'gcp' AND regexp_like(lower(ref), '/instances/[^/]+$')
        THEN regexp_extract(lower(ref), '([^/]+)$', 1)
      WHEN provider = 'gcp' AND regexp_like(ref, '[/:]') THEN NULL
      WHEN provider = 'gcp' THEN lower(ref)
      WHEN regexp_like(ref, '[^/]$') THEN regexp_extract(lower(ref), '([^/]+)$', 1)
    END AS billed_key
  FROM refs
)
SELECT
  side, provider, ref, vm_name,
  CASE
    WHEN side = 'billed' THEN billed_key
    WHEN regexp_like(ref, '[^/]$') THEN coalesce(billed_key, regexp_extract(lower(ref), '([^/]+)$', 1))
  END AS instance_key
FROM reduced
