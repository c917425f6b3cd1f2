-- vms_network_daily: network bytes received and sent per VM instance and UTC day (an interval
-- counts in the day it starts), from the agent's /proc/net/dev counters in each sample
-- (vms_dedup). A day whose samples carry no counters (e.g. intervals derived from cloud events)
-- has NULL bytes, not 0; samples_with_counters says how many of its samples had them.
CREATE OR REPLACE VIEW vms_network_daily AS
SELECT
  site, provider, account, instance_id, project, vo, dt,
  CAST(interval_start AS DATE) AS day,
  count(*) AS samples,
  count(net_rx_bytes) AS samples_with_counters,
  sum(net_rx_bytes) AS net_rx_bytes,
  sum(net_tx_bytes) AS net_tx_bytes
FROM vms_dedup
GROUP BY site, provider, account, instance_id, project, vo, dt, CAST(interval_start AS DATE)
