--
-- errors: Graph's failures as the SQLSTATEs of the README's "Errors",
-- never a partial result
--
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret \gset
SELECT current_setting('msgraph_test.reader_secret') AS reader_secret \gset
SELECT emu_reset();
-- one attempt per request: the retries have their own suite (reliability)
ALTER SERVER graph OPTIONS (ADD max_retries '0');

-- a 5xx: HV00N, with Graph's code, message and request-id
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/identityProtection/riskyUsers"}, "action": "status", "status": 503, "code": "serviceNotAvailable", "message": "Service is busy"}');
SELECT * FROM try('SELECT count(id) FROM graph.risky_users');

-- a failure on a later page is an ERROR, not the rows of the earlier pages
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/identityProtection/riskyUsers"}, "after": 3, "action": "status", "status": 500, "code": "generalException", "message": "Internal error"}');
SELECT * FROM try('SELECT count(id) FROM graph.risky_users');
CREATE TEMP TABLE partial AS SELECT 0 AS n;
DO $$ BEGIN
  PERFORM emu_fault('{"match": {"path_prefix": "/v1.0/identityProtection/riskyUsers"}, "after": 2, "action": "status", "status": 500}');
  INSERT INTO partial SELECT count(id) FROM graph.risky_users;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'failed with %', SQLSTATE;
END $$;
SELECT * FROM partial;
SELECT emu_reset();

-- a 404 on a list: HV00R
CREATE FOREIGN TABLE nowhere (id text) SERVER graph OPTIONS (resource 'security/nosuchThings');
SELECT * FROM try('SELECT * FROM nowhere');

-- a 400 shows the $filter that was sent
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents"}, "action": "status", "status": 400, "code": "BadRequest", "message": "Invalid filter clause"}');
SELECT * FROM try('SELECT count(id) FROM graph.incidents');

-- 403 from an application without the permission: 42501 naming it
CREATE SERVER graph_reader FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_reader
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000002', client_secret :'reader_secret');
CREATE SCHEMA rdr;
IMPORT FOREIGN SCHEMA security LIMIT TO (alerts, incidents) FROM SERVER graph_reader INTO rdr;
SELECT count(*) > 0 AS reader_reads_alerts FROM rdr.alerts;
SELECT * FROM try('SELECT count(id) FROM rdr.incidents');
DROP SCHEMA rdr CASCADE;
DROP SERVER graph_reader CASCADE;

-- a 429 past the retries: 53400
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 429, "code": "TooManyRequests", "message": "Please retry again later.", "retry_after": "0"}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
SELECT emu_reset();

-- broken responses: HV000
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "malformed"}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "html"}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "after": 1, "action": "truncate"}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "after": 1, "action": "wrong_host_nextlink"}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "after": 1, "action": "loop_nextlink"}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
-- (curl retries a request once on a reused connection that died: reset twice)
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "reset", "times": 2}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
SELECT emu_reset();

-- a response larger than max_response_bytes
ALTER SERVER graph OPTIONS (ADD max_response_bytes '2000');
SELECT * FROM try('SELECT * FROM graph.alerts');
ALTER SERVER graph OPTIONS (DROP max_response_bytes);

-- a request slower than timeout_ms
ALTER SERVER graph OPTIONS (ADD timeout_ms '300');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "slow", "delay_ms": 2000}');
SELECT * FROM try('SELECT count(id) FROM graph.secure_scores');
ALTER SERVER graph OPTIONS (DROP timeout_ms);
-- statement_timeout stops a request on a hung endpoint
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "hang"}');
SET statement_timeout = '500ms';
SELECT count(id) FROM graph.secure_scores;
RESET statement_timeout;
SELECT emu_reset();
-- and the backend is still usable
SELECT count(id) FROM graph.secure_scores;

-- an unreachable server
CREATE SERVER graph_down FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url 'http://127.0.0.1:9', login_url 'http://127.0.0.1:9', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_down OPTIONS (access_token 'x');
CREATE FOREIGN TABLE down_alerts (id text) SERVER graph_down OPTIONS (resource 'security/alerts_v2');
SELECT * FROM try('SELECT * FROM down_alerts');
DROP SERVER graph_down CASCADE;
DROP FOREIGN TABLE nowhere;
ALTER SERVER graph OPTIONS (DROP max_retries);
