--
-- explain: the Graph Request line under VERBOSE, counters under ANALYZE
--
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT id, severity, title FROM graph.alerts');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT title FROM graph.alerts');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM graph.alerts');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT id, raw FROM graph.alerts');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM graph.risky_users');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT evidence_device_names FROM graph.alerts');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT id, alerts FROM graph.incidents');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT display_name FROM graph.incidents WHERE severity = ''high''');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT risk_level FROM graph.risk_detections');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT current_score FROM graph.secure_scores');
-- without VERBOSE nothing of the request is shown
EXPLAIN (COSTS OFF) SELECT id FROM graph.alerts;

-- ANALYZE: the request as sent (snapshot resolved) and the counters
SELECT explain_filter('EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id, risk_level FROM graph.service_principal_risk_detections');
SELECT explain_filter('EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM graph.incidents');

-- the counters of this backend
SELECT requests > 0 AS requests, pages > 0 AS pages, bytes > 0 AS bytes,
       retries, throttled_ms
  FROM msgraph_request_stats();

-- a server whose cloud is usgov, without overrides: the US Gov host, and
-- nothing is sent by EXPLAIN
CREATE SERVER gov FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id 'contoso.onmicrosoft.us', cloud 'usgov', api_version 'beta');
CREATE FOREIGN TABLE gov_alerts (id text, status text) SERVER gov
  OPTIONS (resource 'security/alerts_v2');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT status FROM gov_alerts');
DROP SERVER gov CASCADE;
