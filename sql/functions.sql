--
-- functions: comments on alerts and incidents, the identity-protection
-- actions on risky users, advanced hunting (joined with local tables),
-- and the request counters.  Every request is checked in the emulator's
-- log; the emulator's data is restored at the end.
--
SET timezone = 'UTC';
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret,
       current_setting('msgraph_test.reader_secret') AS reader_secret \gset
SELECT NULL::void FROM emu('POST', 'restore');
SELECT emu_reset();

CREATE OR REPLACE FUNCTION graph_log(OUT seq int, OUT method text, OUT path text,
                          OUT body jsonb, OUT status int)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT (r->>'seq')::int, r->>'method', r->>'path', r->'body', (r->>'status')::int
    FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY 1
$$;
-- a comment with its timestamp masked
CREATE FUNCTION masked(c jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT c || jsonb_build_object('createdDateTime',
    CASE WHEN c->>'createdDateTime' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$'
         THEN 'TIMESTAMP' ELSE c->>'createdDateTime' END)
$$;

-- the functions as the README lists them ("Triage from SQL")
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'msgraph\_%' AND n.nspname = 'public'
 ORDER BY 1;

--
-- comments: POST .../comments, the whole list back, the new one last
--
SELECT d->>'id' AS a1, jsonb_array_length(d->'comments') AS before
  FROM emu_data('security/alerts_v2') d
 WHERE jsonb_array_length(d->'comments') = 2 ORDER BY d->>'id' LIMIT 1 \gset
SELECT emu_reset();
SELECT jsonb_array_length(c) AS comments, masked(c->-1) AS newest
  FROM msgraph_add_comment('graph', 'alerts', :'a1',
                           'Triage: user confirmed the download, isolating ws-017') c;
SELECT method, path, body, status FROM graph_log();
-- the comment is part of the alert now
SELECT jsonb_array_length(comments) AS comments, comments->-1->>'comment' AS newest
  FROM graph.alerts WHERE id = :'a1';

-- incidents too; text of any kind goes through as JSON
SELECT d->>'id' AS i1 FROM emu_data('security/incidents') d
 WHERE d->>'status' = 'active' ORDER BY (d->>'id')::int LIMIT 1 \gset
SELECT emu_reset();
SELECT masked(msgraph_add_comment('graph', 'incidents', :'i1',
                                  E'Escalated to tier 2 "now" \\ 50% — 調査中')->-1) AS newest;
SELECT method, path, body->>'comment' AS comment FROM graph_log();

-- refused before anything is sent, or Graph's 404
SELECT emu_reset();
SELECT * FROM try($q$SELECT msgraph_add_comment('graph', 'risky_users', 'x', 'hello')$q$);
SELECT * FROM try($q$SELECT msgraph_add_comment('graph', 'alerts', '', 'hello')$q$);
SELECT * FROM try($q$SELECT msgraph_add_comment('nosuchserver', 'alerts', 'x', 'hello')$q$);
SELECT count(*) AS graph_requests FROM graph_log();
SELECT * FROM try($q$SELECT msgraph_add_comment('graph', 'alerts', 'no-such-alert', 'hello')$q$);
SELECT method, path, status FROM graph_log();

--
-- identity protection: dismiss and confirm compromised (204)
--
SELECT array_agg(id ORDER BY id) AS two FROM (
  SELECT d->>'id' AS id FROM emu_data('identityProtection/riskyUsers') d
   WHERE d->>'riskState' = 'atRisk' ORDER BY d->>'id' LIMIT 2) s \gset
SELECT d->>'id' AS victim FROM emu_data('identityProtection/riskyUsers') d
 WHERE d->>'riskState' = 'atRisk' ORDER BY d->>'id' OFFSET 2 LIMIT 1 \gset
SELECT id, risk_state, risk_level FROM graph.risky_users
 WHERE id = ANY (:'two'::text[] || :'victim'::text) ORDER BY id;
SELECT emu_reset();
SELECT msgraph_dismiss_risky_users('graph', :'two');
SELECT msgraph_confirm_compromised('graph', ARRAY[:'victim']);
SELECT method, path, body, status FROM graph_log();
SELECT id, risk_state, risk_level, risk_detail FROM graph.risky_users
 WHERE id = ANY (:'two'::text[] || :'victim'::text) ORDER BY id;

-- the users to act on straight from a query: dismiss the low-risk ones
-- that are still at risk
SELECT emu_reset();
SELECT msgraph_dismiss_risky_users('graph',
         ARRAY(SELECT id FROM graph.risky_users
                WHERE risk_level = 'low' AND risk_state = 'atRisk' ORDER BY id));
SELECT jsonb_array_length(body->'userIds') AS users_in_one_request
  FROM graph_log() WHERE method = 'POST';
SELECT count(*) AS low_risk_still_at_risk FROM graph.risky_users
 WHERE risk_level = 'low' AND risk_state = 'atRisk';

-- nothing to do sends nothing; a NULL id is refused before anything is sent
SELECT emu_reset();
SELECT msgraph_dismiss_risky_users('graph', '{}');
SELECT * FROM try($q$SELECT msgraph_confirm_compromised('graph', ARRAY['a', NULL])$q$);
SELECT count(*) AS graph_requests FROM graph_log();

-- dry run: the bodies as NOTICEs, nothing sent
SET msgraph_security_fdw.dry_run = on;
SELECT emu_reset();
SELECT msgraph_add_comment('graph', 'alerts', :'a1', 'not sent') IS NULL AS nothing_back;
SELECT msgraph_confirm_compromised('graph', ARRAY['00000000-0000-0000-0000-000000000001']);
SELECT count(*) AS graph_requests FROM graph_log();
RESET msgraph_security_fdw.dry_run;

-- every POST is logged with the role, server, path and property names
SELECT emu_reset();
SET client_min_messages = log;
SELECT msgraph_dismiss_risky_users('graph', :'two');
RESET client_min_messages;

--
-- advanced hunting: schema + results, one jsonb per row
--
SELECT emu_reset();
SELECT h FROM msgraph_hunting_query('graph',
  'DeviceEvents | where ActionType == "AntivirusDetection" and FileName endswith ".exe"
   | project Timestamp, DeviceName, FileName, InitiatingProcessAccountName
   | sort by Timestamp desc | take 3') h;
SELECT method, path, body, status FROM graph_log();
-- the timespan goes with the query (Graph's default is 30 days)
SELECT emu_reset();
SELECT h->>'Count' AS last_30_days FROM msgraph_hunting_query('graph', 'DeviceEvents | count') h;
SELECT h->>'Count' AS last_2_days FROM msgraph_hunting_query('graph', 'DeviceEvents | count', 'P2D') h;
SELECT body FROM graph_log();

-- a hunting query joined with local tables in one statement: which owners'
-- critical machines saw antivirus detections this week
CREATE TEMP TABLE assets (device_name text PRIMARY KEY, owner text, criticality text);
INSERT INTO assets VALUES
  ('dc01.corp.contoso.com', 'identity-team@contoso.com', 'tier0'),
  ('dc02.corp.contoso.com', 'identity-team@contoso.com', 'tier0'),
  ('srv-sql-01.contoso.local', 'dba-team@contoso.com', 'tier1'),
  ('srv-sql-02.contoso.local', 'dba-team@contoso.com', 'tier1'),
  ('kiosk-lobby.contoso.local', 'facilities@contoso.com', 'tier3');
SELECT a.owner, a.criticality, h->>'DeviceName' AS device, count(*) AS detections,
       max((h->>'Timestamp')::timestamptz) AS latest
  FROM msgraph_hunting_query('graph',
         'DeviceEvents | where ActionType == "AntivirusDetection"', 'P7D') h
  JOIN assets a ON a.device_name = h->>'DeviceName'
 WHERE a.criticality IN ('tier0', 'tier1')
 GROUP BY 1, 2, 3 ORDER BY 2, 3;

-- and with the alerts themselves: hunting finds the alert ids, the alerts
-- table gives their state
SELECT al.id, al.severity, al.status, h->>'Title' = al.title AS same_title
  FROM msgraph_hunting_query('graph',
         'AlertInfo | where Severity == "High" | sort by Timestamp desc | take 3') h
  JOIN graph.alerts al ON al.id = h->>'AlertId'
 ORDER BY al.id;

-- a query Graph cannot run: a 400 with Graph's message, which says why
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph', 'DeviceEvents | wher ActionType == "x"')$q$);
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph', 'DeviceEventz | take 1')$q$);
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph', 'DeviceEvents | where Nope == 1')$q$);
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph', 'DeviceEvents | take 1', 'last week')$q$);

-- its own timeout: a query may take longer than the server's timeout_ms
CREATE SERVER graph_hurried FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', timeout_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_hurried
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
SELECT emu_config('{"hunting_delay_ms": 2500}');
SELECT h->>'Count' AS counted_after_2_5_s
  FROM msgraph_hunting_query('graph_hurried', 'DeviceEvents | count') h;
-- past Graph's own limit (here 0.5 s) Graph cancels the query: its error
SELECT emu_config('{"hunting_delay_ms": 1000, "hunting_timeout_ms": 500}');
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph_hurried', 'DeviceEvents | count')$q$);
SELECT emu_reset();
DROP SERVER graph_hurried CASCADE;

-- the tenant's hunting quota used up: 429 is 53400, once the retries (a
-- POST that Graph refused with 429 may be sent again) are spent too
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/runHuntingQuery"}, "action": "status", "status": 429, "code": "TooManyRequests", "message": "Query quota exceeded.", "retry_after": "0", "times": 6}');
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph', 'DeviceEvents | count')$q$);
SELECT emu_reset();

-- an application without ThreatHunting.Read.All or the ReadWrite roles
CREATE SERVER graph_reader FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_reader
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000002', client_secret :'reader_secret');
SELECT * FROM try($q$SELECT msgraph_hunting_query('graph_reader', 'DeviceEvents | count')$q$);
SELECT * FROM try(format($q$SELECT msgraph_add_comment('graph_reader', 'alerts', %L, 'x')$q$, :'a1'));
SELECT * FROM try(format($q$SELECT msgraph_dismiss_risky_users('graph_reader', %L)$q$, :'two'));
DROP SERVER graph_reader CASCADE;

--
-- msgraph_request_stats(): this backend's counters
--
SELECT requests AS r0, pages AS p0, bytes AS b0, tokens_fetched AS t0
  FROM msgraph_request_stats() \gset
SELECT emu_reset();
SELECT count(id) FROM graph.secure_scores;
SELECT s.requests - :r0 AS requests, s.pages - :p0 AS pages, s.bytes > :b0 AS bytes_grew,
       s.tokens_fetched - :t0 AS tokens, s.retries, s.throttled_ms,
       (SELECT count(*) FROM graph_log()) AS emulator_saw
  FROM msgraph_request_stats() s;

-- the emulator's data back as generated
SELECT e->>'ok' AS restored FROM emu('POST', 'restore') e;
SELECT jsonb_array_length(comments) AS comments FROM graph.alerts WHERE id = :'a1';
SELECT count(*) FILTER (WHERE risk_state = 'atRisk') AS at_risk FROM graph.risky_users;
