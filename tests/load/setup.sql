-- the load test's objects: a server on the throttling emulator, the six
-- tables, and a local list of alert ids and an asset inventory to join
CREATE EXTENSION msgraph_security_fdw;
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA graph;
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO graph;
IMPORT FOREIGN SCHEMA identity_protection FROM SERVER graph INTO graph;
CREATE TABLE alert_ids AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM graph.alerts;
-- five devices: a join sends one request per device (nested loop)
CREATE TABLE assets (device text PRIMARY KEY, owner text);
INSERT INTO assets
  SELECT d, 'owner of ' || d
    FROM (SELECT DISTINCT d FROM graph.alerts, unnest(evidence_device_names) d ORDER BY d LIMIT 5) s;
ANALYZE alert_ids, assets;
