--
-- writes: UPDATE of alerts and incidents (one PATCH per row, only the SET
-- properties), direct PATCH by id, RETURNING from Graph's answer, and the
-- guard rails: max_update_rows, dry_run, refusals before anything is sent,
-- the count of changed rows when Graph fails mid-statement.  Every request
-- is checked in the emulator's log.  The emulator's data is restored at
-- the end, for the suites that follow.
--
SET timezone = 'UTC';
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret,
       current_setting('msgraph_test.reader_secret') AS reader_secret \gset
SELECT NULL::void FROM emu('POST', 'restore');
SELECT emu_reset();

-- the Graph requests since the last emu_reset(): method, path, body, status
CREATE OR REPLACE FUNCTION graph_log(OUT seq int, OUT method text, OUT path text,
                          OUT body jsonb, OUT status int)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT (r->>'seq')::int, r->>'method', r->>'path', r->'body', (r->>'status')::int
    FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY 1
$$;

-- an alert nobody has taken yet, and four more for the later tests
SELECT d->>'id' AS a1 FROM emu_data('security/alerts_v2') d
 WHERE d->>'status' = 'new' AND d->>'assignedTo' IS NULL AND d->>'severity' = 'high'
 ORDER BY d->>'id' LIMIT 1 \gset
SELECT id, status, assigned_to, classification, determination
  FROM graph.alerts WHERE id = :'a1';

--
-- UPDATE by id: straight to PATCH (a direct modify, no GET first)
--
SELECT line FROM explain_filter(format($q$EXPLAIN (VERBOSE, COSTS OFF)
  UPDATE graph.alerts SET status = 'inProgress', assigned_to = 'soc1@contoso.com'
   WHERE id = %L$q$, :'a1')) AS line;
SELECT emu_reset();
UPDATE graph.alerts SET status = 'inProgress', assigned_to = 'soc1@contoso.com'
 WHERE id = :'a1'
 RETURNING id, status, assigned_to, classification,
           last_update_date_time > '2026-06-01' AS touched_by_graph;
-- exactly one request: the PATCH, whose body holds only the SET properties
SELECT method, path, body, status FROM graph_log();
-- the change is what Graph holds now
SELECT id, status, assigned_to FROM graph.alerts WHERE id = :'a1';

-- resolve with classification and determination; RETURNING is Graph's row
SELECT emu_reset();
UPDATE graph.alerts
   SET status = 'resolved', classification = 'truePositive', determination = 'malware'
 WHERE id = :'a1'
 RETURNING status, classification, determination, assigned_to,
           resolved_date_time IS NOT NULL AS resolved_stamped,
           raw->>'status' AS raw_status;
SELECT method, body FROM graph_log();

-- an id Graph does not know: the PATCH is a 404, and 0 rows are updated
SELECT emu_reset();
UPDATE graph.alerts SET status = 'resolved' WHERE id = 'no-such-alert' RETURNING id;
SELECT method, path, status FROM graph_log();

-- a parameter as the id: the direct PATCH under a prepared statement too
PREPARE take(text, text) AS
  UPDATE graph.alerts SET assigned_to = $2 WHERE id = $1 RETURNING assigned_to;
SELECT emu_reset();
EXECUTE take(:'a1', 'soc2@contoso.com');
SELECT method, body FROM graph_log();
DEALLOCATE take;

--
-- UPDATE of the rows a WHERE clause finds: one PATCH per row
--
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  UPDATE graph.incidents SET custom_tags = ARRAY['triage', 'wave-1']
   WHERE severity = 'high' AND status = 'active'$q$) AS line;
SELECT emu_reset();
WITH u AS (
  UPDATE graph.incidents SET custom_tags = ARRAY['triage', 'wave-1']
   WHERE severity = 'high' AND status = 'active'
   RETURNING id, custom_tags)
SELECT * FROM u ORDER BY id;
-- the rows were found first: a pass of GETs (two pages) finds and counts
-- them, then the scan runs again (its second page fetched ahead, on its own
-- connection, so that it may reach Graph before or after the first PATCH)
-- and each row gets its PATCH, all with the same body, only the SET property
SELECT string_agg(method, ' ' ORDER BY seq) FILTER (WHERE seq <= (SELECT min(seq) + 2 FROM graph_log()))
         AS first_three,
       count(*) FILTER (WHERE method = 'GET') AS gets,
       count(*) FILTER (WHERE method = 'PATCH') AS patches
  FROM graph_log();
SELECT count(DISTINCT body) AS distinct_bodies, min(body::text) AS body
  FROM graph_log() WHERE method = 'PATCH';
SELECT count(*) AS incidents_tagged FROM graph.incidents
 WHERE 'wave-1' = ANY (custom_tags);

-- SET values computed per row, and a join with a local table: the owner
-- of the device an alert names takes it
CREATE TEMP TABLE device_owners (device text PRIMARY KEY, owner text);
INSERT INTO device_owners VALUES
  ('srv-sql-02.contoso.local', 'dba-team@contoso.com'),
  ('lt-jose.contoso.local', 'jose.muller@contoso.com');
SELECT emu_reset();
WITH u AS (
  UPDATE graph.alerts a SET assigned_to = o.owner
    FROM device_owners o
   WHERE o.device = ANY (a.evidence_device_names) AND a.status = 'new'
  RETURNING o.device, a.assigned_to)
SELECT device, assigned_to, count(*) FROM u GROUP BY 1, 2 ORDER BY 1;
SELECT body, count(*) FROM graph_log() WHERE method = 'PATCH' GROUP BY 1 ORDER BY body::text;

-- a hand-made table over the same resource: the column options name the
-- properties, the types are the user's
CREATE FOREIGN TABLE my_alerts (
  id text,
  owner text OPTIONS (property 'assignedTo'),
  state varchar(20) OPTIONS (property 'status'),
  headline text OPTIONS (property 'title')
) SERVER graph OPTIONS (resource 'security/alerts_v2');
SELECT emu_reset();
UPDATE my_alerts SET owner = 'soc4@contoso.com', state = 'inProgress'
 WHERE id = :'a1' RETURNING id, owner, state, headline IS NOT NULL AS has_title;
SELECT method, body FROM graph_log();
SELECT * FROM try($q$UPDATE my_alerts SET headline = 'x' WHERE id = 'x'$q$);

--
-- max_update_rows: rows are found first, then an ERROR before any PATCH
--
SET msgraph_security_fdw.max_update_rows = 3;
SELECT emu_reset();
SELECT * FROM try($q$UPDATE graph.alerts SET status = 'resolved' WHERE severity = 'medium'$q$);
SELECT count(*) FILTER (WHERE method = 'GET') > 0 AS rows_were_looked_up,
       count(*) FILTER (WHERE method = 'PATCH') AS patches
  FROM graph_log();
-- a statement within the cap goes through
SELECT emu_reset();
UPDATE graph.alerts SET determination = 'securityTesting'
 WHERE id IN (SELECT d->>'id' FROM emu_data('security/alerts_v2') d ORDER BY d->>'id' LIMIT 3);
SELECT count(*) AS patches FROM graph_log() WHERE method = 'PATCH';
RESET msgraph_security_fdw.max_update_rows;

--
-- dry_run: each PATCH body as a NOTICE, nothing sent, no row changed
--
SET msgraph_security_fdw.dry_run = on;
SELECT emu_reset();
UPDATE graph.alerts SET status = 'new', assigned_to = NULL WHERE id = :'a1'
RETURNING id;
UPDATE graph.incidents SET status = 'resolved', classification = 'falsePositive'
 WHERE severity = 'high' AND status = 'active'
RETURNING id;
SELECT count(*) FILTER (WHERE method = 'PATCH') AS patches FROM graph_log();
RESET msgraph_security_fdw.dry_run;
SELECT status, assigned_to FROM graph.alerts WHERE id = :'a1';

--
-- refused before anything is sent, with the reason
--
SELECT emu_reset();
SELECT * FROM try($q$INSERT INTO graph.alerts (id, title) VALUES ('x', 'made up')$q$);
SELECT * FROM try($q$DELETE FROM graph.alerts WHERE status = 'resolved'$q$);
SELECT * FROM try($q$DELETE FROM graph.risky_users$q$);
SELECT * FROM try($q$UPDATE graph.alerts SET title = 'renamed' WHERE id = 'x'$q$);
SELECT * FROM try($q$UPDATE graph.alerts SET id = 'y' WHERE id = 'x'$q$);
SELECT * FROM try($q$UPDATE graph.alerts SET raw = '{}' WHERE id = 'x'$q$);
SELECT * FROM try($q$UPDATE graph.incidents SET resolving_comment = 'done' WHERE id = 'x'$q$);
SELECT * FROM try($q$UPDATE graph.risky_users SET risk_state = 'dismissed'$q$);
SELECT * FROM try($q$UPDATE graph.risk_detections SET risk_level = 'low'$q$);
SELECT * FROM try($q$UPDATE graph.alerts SET status = NULL WHERE id = 'x'$q$);
SELECT * FROM try($q$UPDATE graph.incidents SET custom_tags = ARRAY['a', NULL] WHERE id = 'x'$q$);
SELECT count(*) AS graph_requests FROM graph_log();
-- a value computed per row is checked for every row before the first PATCH
SELECT * FROM try($q$UPDATE graph.alerts
   SET status = CASE WHEN title LIKE 'S%' THEN NULL ELSE 'resolved' END
 WHERE severity = 'high' AND status = 'new'$q$);
SELECT count(*) FILTER (WHERE method = 'PATCH') AS patches FROM graph_log();
-- a hand-made table over a resource the catalog does not know, and one
-- without an id column
CREATE FOREIGN TABLE things (id text, name text) SERVER graph OPTIONS (resource 'security/things');
SELECT * FROM try($q$UPDATE things SET name = 'x'$q$);
CREATE FOREIGN TABLE alert_titles (title text, status text)
  SERVER graph OPTIONS (resource 'security/alerts_v2');
SELECT * FROM try($q$UPDATE alert_titles SET status = 'resolved'$q$);
-- what PostgreSQL reports as updatable (4 = UPDATE only)
SELECT c.relname, pg_relation_is_updatable(c.oid, false) AS events
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'graph' ORDER BY 1;

--
-- Graph refuses a value: its message, and how many rows it had changed
--
-- (a value that is no member of an enum never gets this far: writes_values)
SELECT emu_reset();
SELECT emu_fault('{"match": {"method": "PATCH"}, "action": "status", "status": 400, "code": "BadRequest", "message": "The value of assignedTo is not valid."}');
SELECT * FROM try(format($q$UPDATE graph.alerts SET assigned_to = 'nobody' WHERE id = %L$q$, :'a1'));
SELECT method, body, status FROM graph_log();

-- a failure mid-statement: the ERROR says how many rows Graph had already
-- changed (Graph has no transactions: those stay changed)
SELECT string_agg(quote_literal(id), ', ' ORDER BY id) AS five FROM (
  SELECT d->>'id' AS id FROM emu_data('security/alerts_v2') d
   WHERE d->>'status' = 'new' AND d->>'severity' = 'low' ORDER BY d->>'id' LIMIT 5) s \gset
SELECT set_config('test.five', :'five', false) IS NOT NULL AS ids_set;
SELECT emu_reset();
SELECT emu_fault('{"match": {"method": "PATCH"}, "after": 2, "action": "status", "status": 500, "code": "generalException", "message": "Internal error"}');
DO $$
DECLARE
  msg text;
  ctx text;
BEGIN
  EXECUTE format('UPDATE graph.alerts SET status = %L WHERE id IN (%s)', 'inProgress',
                 current_setting('test.five'));
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE 'ERROR: %', msg;
  RAISE NOTICE 'CONTEXT: %', split_part(ctx, E'\n', 1);
END $$;
SELECT method, status FROM graph_log() WHERE method = 'PATCH';
SELECT status, count(*) FROM graph.alerts WHERE id IN (:five) GROUP BY 1 ORDER BY 1;

--
-- every PATCH is logged with the role, server, resource, id and property
-- names (never values)
--
SELECT emu_reset();
SET client_min_messages = log;
UPDATE graph.alerts SET assigned_to = 'soc3@contoso.com', status = 'inProgress' WHERE id = :'a1';
RESET client_min_messages;

--
-- an application without SecurityAlert.ReadWrite.All: 42501 naming it
--
CREATE SERVER graph_reader FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_reader
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000002', client_secret :'reader_secret');
CREATE SCHEMA rdr;
IMPORT FOREIGN SCHEMA security LIMIT TO (alerts) FROM SERVER graph_reader INTO rdr;
SELECT * FROM try(format($q$UPDATE rdr.alerts SET status = 'resolved' WHERE id = %L$q$, :'a1'));
DROP SCHEMA rdr CASCADE;
DROP SERVER graph_reader CASCADE;

--
-- the emulator's data back as generated, for the suites that follow
--
SELECT e->>'ok' AS restored FROM emu('POST', 'restore') e;
SELECT id, status, assigned_to, classification, determination
  FROM graph.alerts WHERE id = :'a1';
SELECT count(*) AS incidents_tagged FROM graph.incidents WHERE 'wave-1' = ANY (custom_tags);
DROP FOREIGN TABLE things, alert_titles, my_alerts;
