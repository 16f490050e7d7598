--
-- pushdown: WHERE, ORDER BY, LIMIT and lookups become OData, and results
-- are those of the same query over a local copy of the data
--
SET timezone = 'UTC';
-- local copies to compare against (filterable 'false' makes nothing pushed)
CREATE TEMP TABLE alerts_local AS SELECT * FROM graph.alerts;
CREATE TEMP TABLE incidents_local AS SELECT * FROM graph.incidents;
CREATE TEMP TABLE rd_local AS SELECT * FROM graph.risk_detections;

-- q(sql): the Graph Request line of EXPLAIN VERBOSE, and the Filter left local
CREATE FUNCTION q(query text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(trim(l), '^Graph Request: GET http://EMULATOR/v1.0/', '')
    FROM explain_filter('EXPLAIN (VERBOSE, COSTS OFF) ' || query) l
   WHERE l ~ '(Graph Request|Filter):'
$$;

-- enums: eq, ne on a non-nullable property, in; exact, so no local Filter
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'high'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE status <> 'resolved'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity IN ('high', 'medium')$$);
-- a member in other letter case ('High') matches nothing: left out, exactly
SELECT q($$SELECT id FROM graph.alerts WHERE severity = ANY (ARRAY['low', 'High', 'informational'])$$);
-- ne on a nullable enum and non-member literals stay local
SELECT q($$SELECT id FROM graph.alerts WHERE classification <> 'truePositive'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'nosuch'$$);
-- ... but = 'High' selects no row: nothing is sent
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'High'$$);
-- evolvable members are members
SELECT q($$SELECT id FROM graph.alerts WHERE service_source = 'microsoftSentinel'$$);
-- null tests
SELECT q($$SELECT id FROM graph.alerts WHERE assigned_to IS NULL AND classification IS NOT NULL$$);
-- strings: eq and in are sent and rechecked; quotes are doubled
SELECT q($$SELECT id FROM graph.alerts WHERE assigned_to = 'o''brien@contoso.com'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE assigned_to IN ('a@x.com', 'b&c#d+e/f%g@x.com')$$);
SELECT q($$SELECT id FROM graph.alerts WHERE assigned_to = ''' or 1 eq 1 or '''$$);
-- and, or, not
SELECT q($$SELECT id FROM graph.alerts WHERE (severity = 'high' OR status = 'new') AND determination IS NULL$$);
SELECT q($$SELECT id FROM graph.alerts WHERE NOT (severity = 'low' OR status = 'resolved')$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'high' OR title LIKE '%x%'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE (severity = 'high' AND title LIKE '%x%') OR status = 'new'$$);
SELECT q($$SELECT id FROM graph.incidents WHERE NOT (assigned_to = 'x')$$);
-- timestamps, rendered for 100 ns so that they select what PostgreSQL does
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time >= '2026-05-01 00:00:00.000001+00'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time > '2026-05-01 00:00:00+00'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time < '2026-05-01 00:00:00.000003+00'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time <= '2026-05-01 00:00:00+00'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time = '2026-05-01 00:00:00.000002+00'$$);
SELECT q($$SELECT id FROM graph.incidents WHERE last_update_date_time BETWEEN '2026-04-01' AND '2026-05-01'$$);
-- run-time values: stable expressions and parameters, shown as ?
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'high' AND created_date_time > now() - interval '1 day'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time > current_date - 30$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time >= '2026-05-01'::date$$);
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time < '2026-05-01 10:00'::timestamp$$);
SELECT same($$SELECT id FROM graph.alerts WHERE created_date_time >= '2026-05-01'::date AND created_date_time < '2026-05-20 10:00'::timestamp$$,
            $$SELECT id FROM alerts_local WHERE created_date_time >= '2026-05-01'::date AND created_date_time < '2026-05-20 10:00'::timestamp$$);
-- not filterable, or not comparable: local
SELECT q($$SELECT id FROM graph.alerts WHERE investigation_state = 'running'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE title = 'x'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity < 'low'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE lower(severity) = 'high'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity = status$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity = (random()::text)$$);
-- the evidence lambdas
SELECT q($$SELECT id FROM graph.alerts WHERE 'ws-17.contoso.local' = ANY (evidence_device_names)$$);
SELECT q($$SELECT id FROM graph.alerts WHERE 'jdoe@contoso.com' = ANY (evidence_user_principal_names)$$);
-- identity protection lists
SELECT q($$SELECT id FROM graph.risk_detections WHERE risk_level = 'high' AND risk_event_type IN ('unlikelyTravel', 'anonymizedIPAddress')$$);
SELECT q($$SELECT id FROM graph.risky_users WHERE risk_level = 'medium' OR risk_detail = 'hidden'$$);
SELECT q($$SELECT id FROM graph.service_principal_risk_detections WHERE service_principal_id = 'x'$$);
SELECT q($$SELECT id FROM graph.secure_scores WHERE created_date_time >= '2026-05-01'$$);
-- a hand-made table: filterable overrides the catalog
CREATE FOREIGN TABLE alerts_custom (
  id text,
  title text OPTIONS (filterable 'true'),
  severity text OPTIONS (filterable 'false')
) SERVER graph OPTIONS (resource 'security/alerts_v2');
SELECT q($$SELECT id FROM alerts_custom WHERE title = 'x' AND severity = 'high'$$);
DROP FOREIGN TABLE alerts_custom;

-- ORDER BY: $orderby where Graph's NULL ordering cannot differ
SELECT q($$SELECT id FROM graph.incidents ORDER BY created_date_time DESC$$);
SELECT q($$SELECT id FROM graph.incidents ORDER BY last_update_date_time$$);
SELECT q($$SELECT id FROM graph.alerts ORDER BY created_date_time$$);
SELECT q($$SELECT id FROM graph.alerts ORDER BY last_update_date_time$$);
-- LIMIT: $top as a hint
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'high' LIMIT 5$$);
SELECT q($$SELECT id FROM graph.incidents ORDER BY created_date_time DESC LIMIT 3$$);
SELECT q($$SELECT id FROM graph.alerts WHERE title LIKE '%a%' LIMIT 5$$);
-- lookups by id
SELECT q($$SELECT id, title FROM graph.alerts WHERE id = 'abc'$$);
SELECT q($$SELECT id, title FROM graph.alerts WHERE id IN ('a', 'b', 'c')$$);

-- what was actually sent, from the emulator's log
SELECT emu_reset();
SELECT count(*) FROM graph.alerts WHERE severity = 'high' AND status <> 'resolved';
SELECT r->'params'->>'$filter' AS filter, r->'params'->>'$select' AS select
  FROM emu_requests() r WHERE r->>'kind' = 'graph' LIMIT 1;
SELECT sum((r->>'rows')::int) AS rows_sent FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT emu_reset();
SELECT id, severity FROM graph.alerts WHERE severity = 'high' ORDER BY id LIMIT 0;
SELECT count(*) FROM (SELECT id FROM graph.alerts WHERE severity = 'high' LIMIT 5) s;
SELECT r->'params'->>'$top' AS top, count(*) AS requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1;
SELECT emu_reset();
SELECT id FROM graph.alerts WHERE severity = 'high' LIMIT 5;
SELECT r->'params'->>'$top' AS top, count(*) AS requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1;
-- a get by id, and a missing id
SELECT id AS some_id FROM alerts_local ORDER BY id LIMIT 1 \gset
SELECT emu_reset();
SELECT id = :'some_id' AS found FROM graph.alerts WHERE id = :'some_id';
SELECT count(*) FROM graph.alerts WHERE id = 'no-such-alert';
SELECT count(*) FROM graph.alerts WHERE id IN (:'some_id', 'no-such-alert', :'some_id');
SELECT r->>'path' LIKE '/v1.0/security/alerts_v2/%' AS by_path, r->>'status' AS status
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;

-- results equal those over the local copy
SELECT same($$SELECT id FROM graph.alerts WHERE severity = 'high'$$,
            $$SELECT id FROM alerts_local WHERE severity = 'high'$$);
SELECT same($$SELECT id FROM graph.alerts WHERE status <> 'resolved' AND severity IN ('high', 'low', 'nosuch')$$,
            $$SELECT id FROM alerts_local WHERE status <> 'resolved' AND severity IN ('high', 'low', 'nosuch')$$);
SELECT same($$SELECT id FROM graph.alerts WHERE assigned_to IS NULL OR classification IS NULL$$,
            $$SELECT id FROM alerts_local WHERE assigned_to IS NULL OR classification IS NULL$$);
SELECT same($$SELECT id FROM graph.alerts WHERE NOT (severity = 'low' OR status = 'resolved')$$,
            $$SELECT id FROM alerts_local WHERE NOT (severity = 'low' OR status = 'resolved')$$);
SELECT same($$SELECT id FROM graph.alerts WHERE created_date_time > '2026-03-01' AND created_date_time <= '2026-04-15 12:00'$$,
            $$SELECT id FROM alerts_local WHERE created_date_time > '2026-03-01' AND created_date_time <= '2026-04-15 12:00'$$);
SELECT same($$SELECT id FROM graph.alerts WHERE 'ws-17.contoso.local' = ANY (evidence_device_names)$$,
            $$SELECT id FROM alerts_local WHERE 'ws-17.contoso.local' = ANY (evidence_device_names)$$);
SELECT same($$SELECT id FROM graph.incidents WHERE status IN ('active', 'awaitingAction') OR severity = 'high'$$,
            $$SELECT id FROM incidents_local WHERE status IN ('active', 'awaitingAction') OR severity = 'high'$$);
SELECT same($$SELECT id FROM graph.risk_detections WHERE risk_level = 'high' OR detection_timing_type = 'offline'$$,
            $$SELECT id FROM rd_local WHERE risk_level = 'high' OR detection_timing_type = 'offline'$$);
-- every alert timestamp as a bound: exact at microsecond boundaries
SELECT count(*) FILTER (WHERE f <> l) AS mismatches, count(*) AS bounds FROM (
  SELECT (SELECT count(*) FROM graph.alerts a WHERE a.created_date_time >= b.t) AS f,
         (SELECT count(*) FROM alerts_local a WHERE a.created_date_time >= b.t) AS l
    FROM (SELECT created_date_time AS t FROM alerts_local ORDER BY id LIMIT 12) b) s;

-- ordered results come back ordered
SELECT same($$SELECT id, created_date_time FROM graph.incidents ORDER BY created_date_time LIMIT 7$$,
            $$SELECT id, created_date_time FROM incidents_local ORDER BY created_date_time LIMIT 7$$);

-- prepared statements push the same filter in custom and generic plans
PREPARE sev(text) AS SELECT count(*) FROM graph.alerts WHERE severity = $1 AND created_date_time > $2::timestamptz - interval '365 days';
SELECT emu_reset();
DO $$ BEGIN FOR i IN 1..12 LOOP EXECUTE 'EXECUTE sev(''high'', ''2026-06-01'')'; END LOOP; END $$;
SELECT regexp_replace(r->'params'->>'$filter', 'le \S+$', 'le <scan start>') AS filter, count(*) AS requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1;
SET plan_cache_mode = force_generic_plan;
PREPARE sev2(text) AS SELECT count(*) FROM graph.alerts WHERE severity = ($1)::text;
SELECT q($$EXECUTE sev2('low')$$);
SELECT emu_reset();
EXECUTE sev2('low');
EXECUTE sev2('Low');
-- a member in other letter case ('Low') selects no row: nothing is sent
SELECT regexp_replace(r->'params'->>'$filter', 'le \S+$', 'le <scan start>') AS filter, count(*) AS requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1 ORDER BY 1 DESC;
RESET plan_cache_mode;
DEALLOCATE sev;
DEALLOCATE sev2;

-- a join with a small local table: one filtered request per outer row
CREATE TEMP TABLE assets (device_name text);
INSERT INTO assets SELECT DISTINCT d FROM alerts_local, unnest(evidence_device_names) d ORDER BY 1 LIMIT 5;
ANALYZE assets;
SELECT q($$SELECT a.device_name, g.id FROM assets a JOIN graph.alerts g ON a.device_name = ANY (g.evidence_device_names)$$);
SELECT emu_reset();
SELECT same($$SELECT a.device_name, g.id FROM assets a JOIN graph.alerts g ON a.device_name = ANY (g.evidence_device_names)$$,
            $$SELECT a.device_name, g.id FROM assets a JOIN alerts_local g ON a.device_name = ANY (g.evidence_device_names)$$);
SELECT count(*) AS requests, count(*) FILTER (WHERE r->'params'->>'$filter' LIKE '%evidence/any%') AS filtered
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
CREATE TEMP TABLE wanted (alert_id text);
INSERT INTO wanted SELECT id FROM alerts_local ORDER BY id LIMIT 3;
ANALYZE wanted;
SELECT q($$SELECT w.alert_id, g.title FROM wanted w JOIN graph.alerts g ON g.id = w.alert_id$$);

-- count(*) when every condition is exact: one $count request
SELECT q($$SELECT count(*) FROM graph.alerts WHERE status = 'new'$$);
SELECT emu_reset();
SELECT count(*) FROM graph.alerts WHERE status = 'new';
SELECT count(*) FROM alerts_local WHERE status = 'new';
SELECT r->'params'->>'$count' AS count, r->'params'->>'$top' AS top,
       r->'params'->>'$filter' AS filter
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT count(*), count(*) FROM graph.incidents WHERE severity IN ('high', 'low') AND created_date_time >= '2026-03-01';
SELECT count(*) FROM incidents_local WHERE severity IN ('high', 'low') AND created_date_time >= '2026-03-01';
-- values known at scan start count as constants do
SELECT q($$SELECT count(*) FROM graph.alerts WHERE created_date_time > now() - interval '30 days'$$);
-- not exact, or not countable: counted locally
SELECT q($$SELECT count(*) FROM graph.alerts WHERE assigned_to = 'x'$$);
SELECT q($$SELECT count(*) FROM graph.risk_detections WHERE risk_level = 'high'$$);
SELECT q($$SELECT severity, count(*) FROM graph.alerts GROUP BY 1$$);

-- when Graph says 400: narrower filter, then none; remembered for the session
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret \gset
CREATE SERVER graph_strict FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_strict
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE strict_alerts (id text, severity text, status text, assigned_to text,
                                    created_date_time timestamptz)
  SERVER graph_strict OPTIONS (resource 'security/alerts_v2');
SELECT emu_reset();
SELECT emu_config('{"strict": true}');
SELECT explain_filter($$EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM strict_alerts WHERE (severity = 'high' OR status = 'new') AND assigned_to IS NULL AND created_date_time > '2026-01-01'$$);
SELECT r->>'status' AS status, regexp_replace(r->'params'->>'$filter', '\d{4}-\S+Z', 'T', 'g') AS filter
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;
SELECT same($$SELECT id FROM strict_alerts WHERE (severity = 'high' OR status = 'new') AND assigned_to IS NULL AND created_date_time > '2026-01-01'$$,
            $$SELECT id FROM alerts_local WHERE (severity = 'high' OR status = 'new') AND assigned_to IS NULL AND created_date_time > '2026-01-01'$$);
-- the next query plans with what the session learnt
SELECT q($$SELECT id FROM strict_alerts WHERE severity = 'high' OR status = 'new'$$);
SELECT q($$SELECT id FROM strict_alerts WHERE severity = 'high' AND status <> 'new'$$);
SELECT emu_reset();
DROP SERVER graph_strict CASCADE;

-- use_remote_estimate: planning asks Graph for the count ($count)
CREATE FOREIGN TABLE est_alerts (id text, severity text, title text)
  SERVER graph OPTIONS (resource 'security/alerts_v2', use_remote_estimate 'true');
SELECT emu_reset();
SELECT substring(l from 'rows=(\d+)') AS estimated
  FROM explain_filter($$EXPLAIN SELECT id FROM est_alerts WHERE severity = 'high'$$) l LIMIT 1;
SELECT count(*) AS actual FROM alerts_local WHERE severity = 'high';
SELECT r->'params'->>'$count' AS count, r->'params'->>'$filter' AS filter
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
DROP FOREIGN TABLE est_alerts;
