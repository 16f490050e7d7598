-- The demo: a server on the bundled Graph emulator, its tables imported,
-- and the queries an analyst would run.
\pset null '(null)'
SET timezone = 'UTC';
CREATE EXTENSION msgraph_security_fdw;
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
-- (the statement holding the secret is not echoed)
\set ECHO none
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
\set ECHO queries
CREATE SCHEMA graph;
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO graph;
IMPORT FOREIGN SCHEMA identity_protection FROM SERVER graph INTO graph;

-- High-severity alerts of the last month
SELECT id, status, title, created_date_time
  FROM graph.alerts
 WHERE severity = 'high' AND created_date_time > now() - interval '30 days'
 ORDER BY created_date_time DESC LIMIT 5;

-- Alerts per service source and status
SELECT service_source, status, count(*)
  FROM graph.alerts GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 8;

-- Join the alerts with a local asset inventory, by device name
CREATE TEMP TABLE assets (device_name text PRIMARY KEY, owner text, business_unit text);
INSERT INTO assets
SELECT DISTINCT ON (d) d, 'owner-' || row_number() OVER (), (ARRAY['finance','research','sales'])[1 + (row_number() OVER ()) % 3]
  FROM graph.alerts, unnest(evidence_device_names) d
 LIMIT 6;
SELECT s.business_unit, s.device_name, a.severity, a.title
  FROM assets s
  JOIN graph.alerts a ON s.device_name = ANY (a.evidence_device_names)
 ORDER BY 1, 2, a.created_date_time DESC LIMIT 10;

-- Open incidents with the number of their alerts
SELECT id, severity, status, display_name, jsonb_array_length(alerts) AS alerts
  FROM graph.incidents WHERE status <> 'resolved'
 ORDER BY priority_score DESC NULLS LAST LIMIT 5;

-- Risky users and their latest risk detection
SELECT u.user_principal_name, u.risk_level, u.risk_state,
       (SELECT max(d.detected_date_time) FROM graph.risk_detections d
         WHERE d.user_id = u.id) AS last_detection
  FROM graph.risky_users u WHERE u.risk_level IN ('high', 'medium')
 ORDER BY 2, 1 LIMIT 5;

-- The secure score trend of the last days
SELECT created_date_time::date AS day, current_score, max_score
  FROM graph.secure_scores ORDER BY 1 DESC LIMIT 5;

-- What is sent to Graph
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, severity, title FROM graph.alerts;
SELECT * FROM msgraph_request_stats();
