--
-- security: what a server owner, a role with USAGE and a role with a user
-- mapping can and cannot do, and what a hostile endpoint can cost.  One
-- section per finding of the security review (README, "Security model"),
-- and the newcomer errors caught at CREATE/ALTER.
--
-- Roles: sec_owner owns servers (not a superuser), sec_user has USAGE and
-- a user mapping a superuser made for it.  The listener is the emulator:
-- its request log shows what reached it.
--
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret,
       current_setting('msgraph_test.proxy_url') AS proxy_url,
       current_setting('msgraph_test.private_key_costly') AS costly_key,
       current_setting('msgraph_test.private_key_password') AS key_password,
       current_setting('msgraph_test.certificate') AS cert \gset

-- sec_try(query): try() with the emulator's and the proxy's ports masked
-- everywhere (option values are quoted in messages)
CREATE FUNCTION sec_try(query text, OUT code text, OUT message text,
                        OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT t.code, t.message, t.detail, t.hint INTO code, message, detail, hint FROM try(query) t;
  message := regexp_replace(message, '127\.0\.0\.1:\d+', '127.0.0.1:PORT', 'g');
  detail := regexp_replace(detail, '127\.0\.0\.1:\d+', '127.0.0.1:PORT', 'g');
  hint := regexp_replace(hint, '127\.0\.0\.1:\d+', '127.0.0.1:PORT', 'g');
END $$;

CREATE ROLE sec_owner;
CREATE ROLE sec_user;
GRANT USAGE ON FOREIGN DATA WRAPPER msgraph_security_fdw TO sec_owner;
GRANT USAGE ON SCHEMA public TO sec_owner, sec_user;
GRANT CREATE ON SCHEMA public TO sec_owner;

--
-- 1. A server owner cannot send other roles' credentials anywhere: graph_url,
--    login_url, identity_endpoint and proxy away from the cloud's defaults
--    are superuser-only, and a server a superuser pointed elsewhere cannot
--    be altered by its non-superuser owner at all.
--
-- a server on the cloud's defaults, given to sec_owner; a superuser makes
-- sec_user's mapping (a client secret) on it
CREATE SERVER sec_cloud FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', max_retries '0',
           connect_timeout_ms '2000', timeout_ms '3000');
ALTER SERVER sec_cloud OWNER TO sec_owner;
CREATE USER MAPPING FOR sec_user SERVER sec_cloud
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE sec_scores (id text) SERVER sec_cloud OPTIONS (resource 'security/secureScores');
ALTER FOREIGN TABLE sec_scores OWNER TO sec_owner;
SELECT emu_reset();
SET ROLE sec_owner;
GRANT USAGE ON FOREIGN SERVER sec_cloud TO sec_user;
GRANT SELECT ON sec_scores TO sec_user;
SELECT * FROM sec_try(format('ALTER SERVER sec_cloud OPTIONS (ADD graph_url %L)', :'base'));
SELECT * FROM sec_try(format('ALTER SERVER sec_cloud OPTIONS (ADD login_url %L)', :'base'));
SELECT * FROM sec_try($$ALTER SERVER sec_cloud OPTIONS (ADD login_url 'https://login.example.com')$$);
SELECT * FROM sec_try(format('ALTER SERVER sec_cloud OPTIONS (ADD identity_endpoint %L)',
                             :'base' || '/metadata/identity/oauth2/token'));
SELECT * FROM sec_try(format('ALTER SERVER sec_cloud OPTIONS (ADD proxy %L)', :'proxy_url'));
-- the cloud's own hosts stay open to the owner: the default spelt out, or
-- another national cloud
ALTER SERVER sec_cloud OPTIONS (ADD graph_url 'https://graph.microsoft.com/');
ALTER SERVER sec_cloud OPTIONS (DROP graph_url, ADD cloud 'usgov');
SELECT * FROM sec_try($$ALTER SERVER sec_cloud OPTIONS (ADD graph_url 'https://graph.microsoft.com')$$);
ALTER SERVER sec_cloud OPTIONS (DROP cloud);
RESET ROLE;
-- the URLs sec_user's secret goes to are still the cloud's
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'sec_cloud';

-- a server a superuser pointed at the emulator, owned by sec_owner: the
-- owner can neither change nor keep the URL while altering anything else;
-- dropping both URLs (back to the defaults) is all it may do
CREATE SERVER sec_emu FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base');
ALTER SERVER sec_emu OWNER TO sec_owner;
SET ROLE sec_owner;
SELECT * FROM sec_try($$ALTER SERVER sec_emu OPTIONS (ADD page_size '5')$$);
SELECT * FROM sec_try($$ALTER SERVER sec_emu OPTIONS (DROP graph_url)$$);
ALTER SERVER sec_emu OPTIONS (DROP graph_url, DROP login_url);
RESET ROLE;
DROP SERVER sec_emu;

--
-- 2. Loopback services are not readable: plain http:// is superuser-only,
--    resource is a relative path of plain segments, and an error shows only
--    a short, escaped prefix of a value that does not fit.
--
SET ROLE sec_owner;
SELECT * FROM sec_try(format($$CREATE SERVER sec_loop FOREIGN DATA WRAPPER msgraph_security_fdw
                               OPTIONS (graph_url %L)$$, :'base'));
SELECT * FROM sec_try($$CREATE SERVER sec_loop FOREIGN DATA WRAPPER msgraph_security_fdw
                        OPTIONS (graph_url 'http://localhost:8080', login_url 'http://[::1]:8080')$$);
RESET ROLE;
-- resource paths, whoever asks
SELECT r AS resource, t.code, t.detail
  FROM unnest(ARRAY['../v1/agent', 'security/../../v1/agent', './security/alerts_v2',
                    'security//alerts_v2', 'security/alerts_v2/', 'security/alerts_v2?$top=1',
                    'security/alerts_v2#x', 'security/%2e%2e/x', 'security/alerts v2',
                    E'security/alerts_v2\r\nHost: x']) r,
       LATERAL sec_try(format('CREATE FOREIGN TABLE sec_bad (id text) SERVER graph OPTIONS (resource %L)', r)) t;
-- plain segments with the characters Graph paths use are fine
CREATE FOREIGN TABLE sec_ok (id text)
  SERVER graph OPTIONS (resource 'security/incidents(''x'')/alerts');
DROP FOREIGN TABLE sec_ok;
-- a value that does not fit its column: the message quotes a short,
-- escaped prefix of it, not the whole value (here 5,000 bytes, lines in it)
SELECT emu_fault(jsonb_build_object(
  'match', jsonb_build_object('path_prefix', '/v1.0/security/secureScores'),
  'action', 'body',
  'body', '{"value":[{"id":"s1","currentScore":"' || repeat(E'line\\n', 1000) || '"}]}'));
CREATE FOREIGN TABLE sec_fit (id text, current_score integer)
  SERVER graph OPTIONS (resource 'security/secureScores');
SELECT code, length(message) < 250 AS short, message, position(E'\n' IN message) = 0 AS one_line
  FROM try('SELECT * FROM sec_fit');
DROP FOREIGN TABLE sec_fit;
-- an option value that does not fit: a prefix of 100 characters
SELECT code, length(message) < 150 AS short, left(message, 60) AS message
  FROM sec_try(format('ALTER SERVER graph OPTIONS (SET graph_url %L)', 'ftp://' || repeat('a', 5000)));

--
-- 4. A small answer costs little: an error body is read up to its first
--    16 kB (and the transfer stops there), never into a json-c tree; a page
--    the strict walk refuses is never parsed into one either.  The memory
--    and cancel figures are measured by tests/checks/security_memory.sh.
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "flood",
                   "status": 400, "head": "{\"error\":{\"code\":\"BadRequest\",\"details\":[",
                   "unit": "{},", "tail": "{}]}}", "bytes": 12000000, "gzip": false}');
SELECT code, message, detail FROM try('SELECT id FROM graph.secure_scores');
-- the same gzipped: a few kB on the wire, 12 MB once inflated; only the
-- first 16 kB are inflated
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "flood",
                   "status": 400, "head": "{\"error\":{\"code\":\"BadRequest\",\"details\":[",
                   "unit": "{},", "tail": "{}]}}", "bytes": 12000000, "gzip": true}');
SELECT code, message, detail FROM try('SELECT id FROM graph.secure_scores');
-- refused pages: JSON that is no page object, and a page cut short after
-- millions of empty items
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "flood",
                   "head": "[", "unit": "{},", "tail": "{}]", "bytes": 12000000}');
SELECT code, message, detail FROM try('SELECT id FROM graph.secure_scores');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "flood",
                   "head": "{\"value\":[", "unit": "{},", "tail": "{}", "bytes": 12000000}');
SELECT code, message, regexp_replace(detail, 'request: .*', 'request: ...') AS detail
  FROM try('SELECT id FROM graph.secure_scores');
-- a lookup answered with a tree far costlier than its text: an entity is
-- read through the checked index, as list items are, so it costs no tree
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores/s1"}, "action": "flood",
                   "head": "{\"id\":\"s1\",\"x\":[", "unit": "{},", "tail": "{}]}", "bytes": 1000000}');
SELECT id, jsonb_array_length(raw->'x') AS items FROM graph.secure_scores WHERE id = 's1';
-- an answer that is parsed into a tree (advanced hunting) is refused when
-- the tree would cost far more than its text
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/runHuntingQuery"}, "action": "flood",
                   "head": "{\"schema\":[],\"results\":[", "unit": "{},", "tail": "{}]}", "bytes": 1000000}');
SELECT code, message, regexp_replace(detail, 'request: .*', 'request: ...') AS detail
  FROM try($$SELECT * FROM msgraph_hunting_query('graph', 'AlertInfo | take 1')$$);

--
-- 5. An encrypted private key may not ask for more key derivation work
--    than a cancel could wait for: 2,000,001 PBKDF2 iterations are refused
--    before anything is derived.
--
CREATE SERVER sec_cert FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base');
SELECT code, message, detail, hint FROM try(format(
  'CREATE USER MAPPING FOR CURRENT_USER SERVER sec_cert OPTIONS (client_id %L, certificate %L, private_key %L, private_key_password %L)',
  'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', :'cert', :'costly_key', :'key_password'));
DROP SERVER sec_cert;

--
-- 6. max_response_bytes stays below PostgreSQL's allocation limit.
--
SELECT code, message, detail FROM try($$ALTER SERVER graph OPTIONS (ADD max_response_bytes '1073741824')$$);
SELECT code, message, detail FROM try($$ALTER SERVER graph OPTIONS (ADD max_response_bytes '536870913')$$);
ALTER SERVER graph OPTIONS (ADD max_response_bytes '536870912');
ALTER SERVER graph OPTIONS (DROP max_response_bytes);

--
-- 7. No control character reaches a header, URL or form: every option
--    value that could carry one is refused, and nothing is sent.
--
SELECT emu_reset();
SELECT u.what, t.code, t.message, t.detail
  FROM (VALUES
    (1, 'access_token with CR LF and a header',
     format('CREATE USER MAPPING FOR sec_owner SERVER graph OPTIONS (access_token %L)', E'tok\r\nHost: evil.example')),
    (2, 'client_id with LF and a header',
     format('CREATE USER MAPPING FOR sec_owner SERVER graph OPTIONS (client_id %L, client_secret %L)', E'c\nX-Injected: 1', 's')),
    (3, 'client_secret with CR LF',
     format('CREATE USER MAPPING FOR sec_owner SERVER graph OPTIONS (client_id %L, client_secret %L)', 'c', E's\r\n')),
    (4, 'graph_url with CR LF',
     format('ALTER SERVER graph OPTIONS (SET graph_url %L)', :'base' || E'/\r\nX: 1')),
    (5, 'proxy with LF',
     format('ALTER SERVER graph OPTIONS (ADD proxy %L)', :'proxy_url' || E'\n')),
    (6, 'tenant_id with LF',
     format('ALTER SERVER graph OPTIONS (SET tenant_id %L)', E'11111111-2222-3333-4444-555555555555\n')),
    (7, 'property with CR LF',
     format('ALTER FOREIGN TABLE graph.alerts ALTER COLUMN title OPTIONS (ADD property %L)', E'title\r\n')))
    AS u(n, what, stmt),
       LATERAL sec_try(u.stmt) t
 ORDER BY u.n;
-- sec_owner has no mapping, so its query sends nothing either
GRANT USAGE ON FOREIGN SERVER graph TO sec_owner;
GRANT USAGE ON SCHEMA graph TO sec_owner;
GRANT SELECT ON graph.secure_scores TO sec_owner;
SET ROLE sec_owner;
SELECT code, message FROM try('SELECT count(id) FROM graph.secure_scores');
RESET ROLE;
REVOKE SELECT ON graph.secure_scores FROM sec_owner;
REVOKE USAGE ON SCHEMA graph FROM sec_owner;
REVOKE USAGE ON FOREIGN SERVER graph FROM sec_owner;
SELECT count(*) AS requests_at_listener FROM emu_requests();

--
-- 8. A Retry-After date far in the future is a wait of the one-day cap,
--    not an overflow that means "retry at once": statement_timeout stops
--    the retries after the first request.
--
CREATE SERVER sec_retry FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base',
           max_retries '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_retry
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE sec_retry_scores (id text) SERVER sec_retry OPTIONS (resource 'security/secureScores');
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status",
                   "status": 429, "retry_after": "Fri, 31 Dec 999999999 23:59:59 GMT", "times": 4}');
SET statement_timeout = '10s';
SELECT code, message, detail FROM try('SELECT count(*) FROM sec_retry_scores');
RESET statement_timeout;
SELECT count(*) FILTER (WHERE r->>'kind' = 'graph') AS graph_requests FROM emu_requests() r;
DROP SERVER sec_retry CASCADE;

--
-- 9. Error text from Graph is checked as strictly as data, and reaches a
--    message escaped, cut short and valid in the database encoding.
--
SELECT emu_reset();
-- invalid UTF-8 in the message: not passed on
SELECT emu_fault(jsonb_build_object(
  'match', jsonb_build_object('path_prefix', '/v1.0/security/secureScores'), 'action', 'body', 'status', 400,
  'body_b64', translate(encode(convert_to('{"error":{"code":"BadRequest","message":"bad ', 'UTF8') || '\xfffe'::bytea
                     || convert_to(' bytes"}}', 'UTF8'), 'base64'), E'\n', '')));
SET client_encoding = 'LATIN1';
SELECT code, message, detail FROM try('SELECT count(*) FROM graph.secure_scores');
RESET client_encoding;
-- line breaks and control characters escaped; a message of 5,000
-- characters cut to 1,024
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status",
                   "status": 400, "code": "Bad\nCode", "message": "first line\nsecond\u0007line"}');
SELECT code, message, detail FROM try('SELECT count(*) FROM graph.secure_scores');
SELECT emu_fault(jsonb_build_object(
  'match', jsonb_build_object('path_prefix', '/v1.0/security/secureScores'), 'action', 'status',
  'status', 400, 'message', repeat('x', 5000)));
SELECT code, length(detail) < 1100 AS cut, right(detail, 40) AS ends
  FROM try('SELECT count(*) FROM graph.secure_scores');
-- the identity platform's refusal: the same rules
SELECT msgraph_reset_tokens();
SELECT emu_fault(jsonb_build_object(
  'match', jsonb_build_object('kind', 'token'), 'action', 'body', 'status', 400,
  'content_type', 'application/json',
  'body_b64', translate(encode(convert_to('{"error":"invalid_client","error_description":"AADSTS7000215: bad ', 'UTF8')
                     || '\xc080'::bytea || convert_to('"}', 'UTF8'), 'base64'), E'\n', '')));
SELECT code, message, detail FROM try('SELECT count(*) FROM graph.secure_scores');

--
-- 10. A proxy never carries loopback traffic (the emulator's plain HTTP,
--     bearer token included): requests to loopback hosts go direct.
--
CREATE FUNCTION sec_proxy_log() RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp.sec_proxy_out') IS NULL THEN
    CREATE TEMP TABLE sec_proxy_out (line text);
  END IF;
  TRUNCATE sec_proxy_out;
  EXECUTE format('COPY sec_proxy_out FROM PROGRAM %L WITH (FORMAT csv, QUOTE E''\x01'', DELIMITER E''\x02'')',
                 'curl -sS --noproxy ''*'' ' || quote_shell(current_setting('msgraph_test.proxy_url') || '/_proxy/log'));
  RETURN QUERY SELECT line::jsonb FROM sec_proxy_out WHERE line <> '';
END $$;
SELECT count(*) AS proxied_before FROM sec_proxy_log() p WHERE p->>'target' LIKE '127.0.0.1:%';
CREATE SERVER sec_proxied FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555', graph_url :'base', login_url :'base',
           proxy :'proxy_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_proxied
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE sec_proxied_scores (id text) SERVER sec_proxied OPTIONS (resource 'security/secureScores');
SELECT msgraph_reset_tokens();
SELECT emu_reset();
SELECT count(*) FROM sec_proxied_scores;
SELECT count(*) AS proxied_after FROM sec_proxy_log() p WHERE p->>'target' LIKE '127.0.0.1:%';
SELECT r->>'kind' AS kind, count(*) > 0 AS direct FROM emu_requests() r GROUP BY 1 ORDER BY 1;
DROP SERVER sec_proxied CASCADE;

--
-- Newcomer errors, caught at CREATE/ALTER with a HINT rather than as a
-- Graph 400 at the first query
--
-- a user mapping without a credential
SELECT * FROM sec_try('CREATE USER MAPPING FOR sec_user SERVER graph');
SELECT * FROM sec_try($$CREATE USER MAPPING FOR sec_user SERVER graph OPTIONS (client_id 'c')$$);
-- a graph_url with the version in it
SELECT * FROM sec_try(format('ALTER SERVER graph OPTIONS (SET graph_url %L)', :'base' || '/v1.0'));
SELECT * FROM sec_try($$CREATE SERVER sec_v FOREIGN DATA WRAPPER msgraph_security_fdw
                        OPTIONS (graph_url 'https://graph.microsoft.com/beta/')$$);
-- columns that read no property of a resource the catalog knows
SELECT * FROM sec_try($$CREATE FOREIGN TABLE sec_cols (id text, createdDateTime timestamptz)
                        SERVER graph OPTIONS (resource 'security/alerts_v2')$$);
SELECT * FROM sec_try($$CREATE FOREIGN TABLE sec_cols (id text, raw jsonb)
                        SERVER graph OPTIONS (resource 'security/alerts_v2')$$);
SELECT * FROM sec_try($$CREATE FOREIGN TABLE sec_cols (id text, no_such_thing text)
                        SERVER graph OPTIONS (resource 'security/alerts_v2')$$);
-- ... also when altered, imported names stay fine, and a property option
-- (a beta property, a dotted path) or an unknown resource is the user's word
CREATE FOREIGN TABLE sec_cols (id text, created_date_time timestamptz, "createdDateTime" timestamptz,
                               newer text OPTIONS (property 'someBetaProperty'))
  SERVER graph OPTIONS (resource 'security/alerts_v2');
SELECT * FROM sec_try('ALTER FOREIGN TABLE sec_cols ADD COLUMN lastupdatedatetime timestamptz');
SELECT * FROM sec_try('ALTER FOREIGN TABLE sec_cols ALTER COLUMN newer OPTIONS (DROP property)');
SELECT * FROM sec_try('ALTER FOREIGN TABLE sec_cols RENAME COLUMN created_date_time TO created');
SELECT * FROM sec_try($$ALTER FOREIGN TABLE sec_cols OPTIONS (SET resource 'identityProtection/riskyUsers')$$);
CREATE FOREIGN TABLE sec_other (id text, anything text) SERVER graph OPTIONS (resource 'auditLogs/signIns');
DROP FOREIGN TABLE sec_cols, sec_other;
-- a query on a server without a user mapping for the role says which
-- server, and how to make one
GRANT USAGE ON FOREIGN SERVER graph TO sec_user;
GRANT USAGE ON SCHEMA graph TO sec_user;
GRANT SELECT ON graph.alerts TO sec_user;
SET ROLE sec_user;
SELECT * FROM sec_try('SELECT count(*) FROM graph.alerts');
RESET ROLE;
REVOKE SELECT ON graph.alerts FROM sec_user;
REVOKE USAGE ON SCHEMA graph FROM sec_user;
REVOKE USAGE ON FOREIGN SERVER graph FROM sec_user;

SELECT emu_reset();
DROP SERVER sec_cloud CASCADE;
REVOKE ALL ON SCHEMA public FROM sec_owner, sec_user;
REVOKE USAGE ON FOREIGN DATA WRAPPER msgraph_security_fdw FROM sec_owner;
DROP ROLE sec_owner;
DROP ROLE sec_user;
