--
-- hostile: broken and hostile responses.  Each ends in the ERROR of
-- the README's "Errors" (bad response: HV000; transport: HV00N; a value that does
-- not fit: the type's code, naming table, column, property and row id),
-- or, where the response is valid, in exactly the rows it holds.  Never a
-- crash, never a partial result, never a silently different value.
--
SET timezone = 'UTC';
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret \gset
SELECT pg_backend_pid() AS backend_pid \gset
SELECT emu_reset();
-- one attempt per request: a retry would fetch a sound page (reliability
-- has the retries)
ALTER SERVER graph OPTIONS (ADD max_retries '0');

-- hz(query): how a statement ended: SQLSTATE, message, DETAIL up to the
-- request (its URL varies) and the first CONTEXT line (the conversion's)
CREATE FUNCTION hz(query text, OUT code text, OUT message text, OUT detail text,
                   OUT context text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  code := '00000';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, context = PG_EXCEPTION_CONTEXT;
  detail := split_part(detail, '; request: ', 1);
  detail := regexp_replace(detail, 'http://127\.0\.0\.1:\d+', 'http://EMULATOR', 'g');
  detail := regexp_replace(detail, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z', 'TIMESTAMP', 'g');
  context := split_part(context, E'\n', 1);
  IF context LIKE 'PL/pgSQL%' THEN
    context := NULL;
  END IF;
END $$;

-- hz_fault(path, spec): one fault on the next list request of a resource
CREATE FUNCTION hz_fault(path text, spec jsonb) RETURNS void LANGUAGE sql AS $$
  SELECT emu_reset();
  SELECT emu_fault(spec || jsonb_build_object('match',
                   jsonb_build_object('path_prefix', '/v1.0/' || path)))
$$;
-- inject(path, field, raw JSON text [, entity, duplicate]): the member of the
-- first page's item (-1: of the page itself) becomes raw, sent byte for byte
CREATE FUNCTION inject(path text, field text, raw text, entity int DEFAULT 0,
                       duplicate boolean DEFAULT false) RETURNS void LANGUAGE sql AS $$
  SELECT hz_fault(path, jsonb_build_object('action', 'inject', 'field', field, 'raw', raw,
                                           'entity', entity, 'duplicate', duplicate))
$$;
CREATE FUNCTION inject_bytes(path text, field text, raw bytea) RETURNS void LANGUAGE sql AS $$
  SELECT hz_fault(path, jsonb_build_object('action', 'inject', 'field', field,
                  'raw_b64', translate(encode(raw, 'base64'), E'\n', '')))
$$;
-- body(path, text [, status, content type, pad]): the whole response
CREATE FUNCTION body(path text, content text, status int DEFAULT 200,
                     content_type text DEFAULT 'application/json', pad int DEFAULT 0)
RETURNS void LANGUAGE sql AS $$
  SELECT hz_fault(path, jsonb_build_object('action', 'body', 'body', content, 'status', status,
                                           'content_type', content_type, 'pad', pad))
$$;

CREATE FOREIGN TABLE hz_alerts (
  id text,
  title text,
  severity text,
  created_date_time timestamptz,
  categories text[],
  custom_details jsonb,
  evidence_device_names text[],
  raw jsonb OPTIONS (property '$')
) SERVER graph OPTIONS (resource 'security/alerts_v2');
CREATE FOREIGN TABLE hz_scores (
  id text,
  active_user_count integer,
  licensed_user_count bigint,
  current_score double precision,
  raw jsonb OPTIONS (property '$')
) SERVER graph OPTIONS (resource 'security/secureScores');
CREATE FOREIGN TABLE hz_users (
  id text,
  is_deleted boolean,
  risk_level text,
  detail json OPTIONS (property 'riskDetail')
) SERVER graph OPTIONS (resource 'identityProtection/riskyUsers');
-- what the emulator holds, for the rows that must come out unchanged
CREATE TEMP TABLE first_alert AS
  SELECT d FROM emu_data('security/alerts_v2') d LIMIT 1;

--
-- 1. bodies that are not JSON
--
-- cut short, with a Content-Length that says so: not JSON
SELECT hz_fault('security/alerts_v2', '{"action": "cut", "bytes": 500}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- cut short by the connection (the Content-Length promised more): transport
SELECT hz_fault('security/alerts_v2', '{"action": "truncate"}');
SELECT code FROM hz('SELECT id FROM hz_alerts');
-- an empty body, an HTML page with status 200, a bare scalar, two documents
SELECT body('security/alerts_v2', '');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '<html><body>Sign in</body></html>', 200, 'text/html');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '5');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[]}{"value":[]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- what json-c would accept, but is no JSON text
SELECT body('security/alerts_v2', '{"value":[{"id":"a","title":NaN}]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[{"id":"a","title":Infinity}]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{''value'':[]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[{"id":"a","score":1.}]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', E'{"value":[{"id":"a\tb"}]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', E'\uFEFF{"value":[]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- an error page with status 200 is not a page either, a 502 one is a 5xx
SELECT hz_fault('security/alerts_v2', '{"action": "html"}');
SELECT code FROM hz('SELECT id FROM hz_alerts');

--
-- 2. the envelope: "value" that is not an array, items that are not objects
--
SELECT body('security/alerts_v2', '{"value":{"id":"a"}}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":null}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"@odata.context":"x"}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '[{"id":"a"}]');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[{"id":"a"},7]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[null]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[["a"]]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- members a client must ignore are ignored
SELECT body('security/alerts_v2', '{"@odata.count":"many","@odata.deltaLink":5,"x":[],"value":[{"id":"a","unknownProperty":{"b":1}}]}');
SELECT * FROM hz_alerts;

--
-- 3. nextLinks
--
-- not a string
SELECT inject('security/alerts_v2', '@odata.nextLink', '5', -1);
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', '@odata.nextLink', '{"href":"x"}', -1);
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- null, like no nextLink: the scan ends with the page's rows
SELECT inject('security/alerts_v2', '@odata.nextLink', 'null', -1);
SELECT count(id) FROM hz_alerts;
-- relative, empty, another port, another scheme: never followed
SELECT inject('security/alerts_v2', '@odata.nextLink', '"/v1.0/security/alerts_v2?$skip=8"', -1);
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', '@odata.nextLink', '""', -1);
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', '@odata.nextLink', to_json(replace(:'base', '127.0.0.1:', '127.0.0.1:1') || '/v1.0/security/alerts_v2')::text, -1);
SELECT code, message FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', '@odata.nextLink', to_json(replace(:'base', 'http:', 'https:') || '/v1.0/security/alerts_v2')::text, -1);
SELECT code, message FROM hz('SELECT id FROM hz_alerts');
-- the same origin spelt in capitals is the same origin: followed, all rows
SELECT emu_reset();
SELECT count(id) AS alerts FROM hz_alerts \gset
SELECT emu_fault(jsonb_build_object('match', jsonb_build_object('path_prefix', '/v1.0/security/alerts_v2'),
  'action', 'inject', 'entity', -1, 'field', '@odata.nextLink',
  'raw', to_json(replace(:'base', 'http://', 'HTTP://') || '/v1.0/security/alerts_v2?$top=8&$skip=8')::text));
SELECT count(id) = :alerts AS all_rows FROM hz_alerts;
-- loops and other hosts: errors.sql

--
-- 4. empty pages with nextLinks: followed, but not forever
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "after": 2, "times": 30, "action": "empty_run"}');
SELECT count(id) = :alerts AS all_rows FROM hz_alerts;
SELECT count(*) FILTER (WHERE r->>'fault' = 'empty_run') AS empty_pages
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT hz_fault('security/alerts_v2', '{"action": "empty_run", "after": 1, "times": 1000}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT count(*) AS requests FROM emu_requests() r WHERE r->>'kind' = 'graph';

-- the same in each time window of a scan with streams (after its probe),
-- and the windows' pages get the same checks
CREATE SERVER graph_windows FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '8', streams '3');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_windows
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001',
           client_secret :'secret');
CREATE FOREIGN TABLE hz_windows (id text, title text)
  SERVER graph_windows OPTIONS (resource 'security/alerts_v2');
SELECT emu_reset();
SELECT count(id) = :alerts AS all_rows FROM hz_windows;
SELECT hz_fault('security/alerts_v2', '{"action": "empty_run", "after": 1, "times": 1000}');
SELECT code, message FROM hz('SELECT id FROM hz_windows');
-- (every window's first page: which window answers first varies)
SELECT hz_fault('security/alerts_v2', '{"action": "inject", "after": 1, "times": 3, "field": "title", "raw": "\"\\ud800\""}');
SELECT code, message, split_part(detail, ' at byte', 1) AS detail FROM hz('SELECT id FROM hz_windows');
SELECT hz_fault('security/alerts_v2', '{"action": "inject", "after": 1, "times": 3, "field": "id", "raw": "\"x\"", "duplicate": true}');
SELECT code, message, split_part(detail, ' at byte', 1) AS detail FROM hz('SELECT id FROM hz_windows');
SELECT emu_reset();
DROP SERVER graph_windows CASCADE;

--
-- 5. pages over max_response_bytes, also when gzip made them small on the wire
--
ALTER SERVER graph OPTIONS (ADD max_response_bytes '100000');
SELECT body('security/alerts_v2', '{"value":[]}', 200, 'application/json', 300000);
SELECT code, message FROM hz('SELECT id FROM hz_alerts');
SELECT (r->>'bytes')::int < 2000 AS small_on_the_wire
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
-- the limit itself is allowed, one byte more is not
ALTER SERVER graph OPTIONS (SET max_response_bytes '100012');
SELECT body('security/alerts_v2', '{"value":[]}', 200, 'application/json', 100000);
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT body('security/alerts_v2', '{"value":[]}', 200, 'application/json', 100001);
SELECT code, message FROM hz('SELECT id FROM hz_alerts');
ALTER SERVER graph OPTIONS (DROP max_response_bytes);

--
-- 6. wrong types in fields: text holds the JSON text; other types take what
--    their input function takes, else an ERROR naming table, column,
--    property and row id
--
SELECT d->>'id' AS first_id FROM first_alert \gset
SELECT inject('security/alerts_v2', 'severity', '5');
SELECT id = :'first_id' AS first, severity FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'title', '{"a":[1,"x",null,true],"b":1.50}');
SELECT title FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'id', '7');
SELECT id FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'createdDateTime', '12');
SELECT * FROM hz('SELECT created_date_time FROM hz_alerts');
SELECT inject('security/alerts_v2', 'createdDateTime', '"2025-02-29T10:00:00Z"');
SELECT * FROM hz('SELECT created_date_time FROM hz_alerts');
SELECT inject('security/alerts_v2', 'createdDateTime', '"0000-06-01T00:00:00Z"');
SELECT * FROM hz('SELECT created_date_time FROM hz_alerts');
-- forms Graph does not send go through timestamptz_in, as typed in SQL
SELECT inject('security/alerts_v2', 'createdDateTime', '"2025-06-01T12:00:00+02:00"');
SELECT created_date_time FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'createdDateTime', '"2025-06-01T23:59:59.9999999Z"');
SELECT created_date_time FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'categories', '"Ransomware"');
SELECT * FROM hz('SELECT categories FROM hz_alerts');
SELECT inject('security/alerts_v2', 'categories', '[1,null,["x"],{"k":"v"}]');
SELECT categories FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'customDetails', '"just a string"');
SELECT custom_details, jsonb_typeof(custom_details) FROM hz_alerts LIMIT 1;
SELECT inject('identityProtection/riskyUsers', 'isDeleted', '"yes"');
SELECT is_deleted FROM hz_users LIMIT 1;
SELECT inject('identityProtection/riskyUsers', 'isDeleted', '2');
SELECT * FROM hz('SELECT is_deleted FROM hz_users');
SELECT inject('identityProtection/riskyUsers', 'riskDetail', '"a \"quoted\" \\ value"');
SELECT detail FROM hz_users LIMIT 1;
SELECT inject('security/secureScores', 'activeUserCount', '"12"');
SELECT active_user_count FROM hz_scores LIMIT 1;
SELECT inject('security/secureScores', 'activeUserCount', '1.0');
SELECT * FROM hz('SELECT active_user_count FROM hz_scores');
SELECT inject('security/secureScores', 'activeUserCount', 'true');
SELECT * FROM hz('SELECT active_user_count FROM hz_scores');

--
-- 7. huge numbers
--
SELECT inject('security/secureScores', 'activeUserCount', '3000000000');
SELECT * FROM hz('SELECT active_user_count FROM hz_scores');
SELECT inject('security/secureScores', 'licensedUserCount', '9223372036854775808');
SELECT * FROM hz('SELECT licensed_user_count FROM hz_scores');
SELECT inject('security/secureScores', 'licensedUserCount', '-9223372036854775808');
SELECT licensed_user_count FROM hz_scores LIMIT 1;
-- beyond 64 bits json-c would saturate: the whole page is refused, even
-- when no column reads the member
SELECT inject('security/secureScores', 'licensedUserCount', '18446744073709551616');
SELECT * FROM hz('SELECT licensed_user_count FROM hz_scores');
SELECT inject('security/secureScores', 'unread', '-99999999999999999999');
SELECT * FROM hz('SELECT id FROM hz_scores');
-- doubles beyond float8: out of range, not infinite or zero
SELECT inject('security/secureScores', 'currentScore', '1e400');
SELECT * FROM hz('SELECT current_score FROM hz_scores');
SELECT inject('security/secureScores', 'currentScore', '-1e-400');
SELECT * FROM hz('SELECT current_score FROM hz_scores');
SELECT inject('security/secureScores', 'currentScore', '4.9e-324');
SELECT current_score > 0 AS denormal_kept FROM hz_scores LIMIT 1;
-- jsonb holds them exactly (numeric)
SELECT inject('security/secureScores', 'big', '[1e400, 18446744073709551615, -9223372036854775808, 0.1e-5]');
SELECT raw->'big'->0 = '1e400'::jsonb AS exact, raw->'big'->1 AS u64, raw->'big'->2 AS i64_min,
       raw->'big'->3 AS small
  FROM hz_scores LIMIT 1;
SELECT inject('security/secureScores', 'big', '1e1000000');
SELECT * FROM hz('SELECT raw FROM hz_scores');

--
-- 8. \u0000: text cannot hold it
--
SELECT inject('security/alerts_v2', 'title', '"before\u0000after"');
SELECT * FROM hz('SELECT title FROM hz_alerts');
SELECT inject('security/alerts_v2', 'title', '"before\u0000after"');
SELECT * FROM hz('SELECT raw FROM hz_alerts');
-- nor a name in a text[] element, even one found inside the evidence
SELECT inject('security/alerts_v2', 'evidence', '[{"@odata.type":"#microsoft.graph.security.deviceEvidence","deviceDnsName":"ws1\u0000.evil"}]');
SELECT * FROM hz('SELECT evidence_device_names FROM hz_alerts');
SELECT inject('security/alerts_v2', 'categories', '["a\u0000b"]');
SELECT * FROM hz('SELECT categories FROM hz_alerts');
-- and an evidence type is not another one because of a \u0000 after it
SELECT inject('security/alerts_v2', 'evidence', '[{"@odata.type":"#microsoft.graph.security.deviceEvidence\u0000x","deviceDnsName":"ws1"}]');
SELECT evidence_device_names FROM hz_alerts LIMIT 1;
-- json (text) can: it keeps the escape
SELECT inject('identityProtection/riskyUsers', 'riskDetail', '"x\u0000y"');
SELECT detail::text FROM hz_users LIMIT 1;
-- a member name with \u0000 would be cut short by json-c: the page is refused
SELECT body('security/alerts_v2', '{"value":[{"id":"a","ti\u0000tle":"x"}]}');
SELECT * FROM hz('SELECT id FROM hz_alerts');

--
-- 9. invalid UTF-8, and escapes that are no characters
--
SELECT inject_bytes('security/alerts_v2', 'title', '\x2261ff6222');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- overlong NUL, an encoded surrogate, beyond U+10FFFF, a cut sequence
SELECT inject_bytes('security/alerts_v2', 'title', '\x2261c0806222');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject_bytes('security/alerts_v2', 'title', '\x22eda08022');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject_bytes('security/alerts_v2', 'title', '\x22f490808022');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject_bytes('security/alerts_v2', 'title', '\x22e28222');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- lone surrogate escapes (json-c would make them U+FFFD)
SELECT inject('security/alerts_v2', 'title', '"\ud800x"');
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', 'title', '"x\udc00"');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- valid ones arrive as they are, raw or escaped
SELECT inject_bytes('security/alerts_v2', 'title', convert_to('"Zürich 東京 🔒 \ud83d\udd12 \u00e9"', 'UTF8'));
SELECT title FROM hz_alerts LIMIT 1;

--
-- 10. duplicate member names: the last would silently win in json-c
--
SELECT inject('security/alerts_v2', 'id', '"another-alert"', 0, true);
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', 'customDetails', '{"a":1,"b":2,"a":3}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- spelt differently, the same name
SELECT inject('security/alerts_v2', 'customDetails', '{"a":1,"\u0061":2}');
SELECT * FROM hz('SELECT id FROM hz_alerts');
-- the same name in different objects is no duplicate
SELECT inject('security/alerts_v2', 'customDetails', '{"a":{"a":1},"b":{"a":2}}');
SELECT custom_details FROM hz_alerts LIMIT 1;

--
-- 11. nesting: 64 levels are accepted, 65 are not (the page object is
--     level 1, "value" 2, an alert 3)
--
SELECT inject('security/alerts_v2', 'customDetails', repeat('[', 61) || repeat(']', 61));
SELECT jsonb_array_length(custom_details) FROM hz_alerts LIMIT 1;
SELECT inject('security/alerts_v2', 'customDetails', repeat('[', 62) || repeat(']', 62));
SELECT * FROM hz('SELECT id FROM hz_alerts');
SELECT inject('security/alerts_v2', 'customDetails', repeat('{"a":', 10000) || '1' || repeat('}', 10000));
SELECT * FROM hz('SELECT id FROM hz_alerts');

--
-- 12. a failure on a later page is an ERROR, never the rows before it
--
CREATE TEMP TABLE got (n bigint);
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "after": 3, "action": "cut"}');
DO $$ BEGIN
  INSERT INTO got SELECT count(id) FROM hz_alerts;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'failed with %: %', SQLSTATE, SQLERRM;
END $$;
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "after": 2, "action": "inject", "entity": 5, "field": "title", "raw": "\"\\ud800\""}');
DO $$ BEGIN
  INSERT INTO got SELECT count(id) FROM hz_alerts;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'failed with %: %', SQLSTATE, SQLERRM;
END $$;
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "after": 4, "action": "inject", "entity": 7, "field": "createdDateTime", "raw": "true"}');
DO $$ BEGIN
  INSERT INTO got SELECT count(created_date_time) FROM hz_alerts;
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'failed with %: %', SQLSTATE, SQLERRM;
END $$;
SELECT count(*) AS partial_results FROM got;

--
-- 13. answers to hunting queries (and writes) get the same check
--
SELECT body('security/runHuntingQuery', '{"schema":[],"results":[{"DeviceName":"a\ud800"}]}');
SELECT * FROM hz($$SELECT * FROM msgraph_hunting_query('graph', 'DeviceEvents | take 1')$$);
SELECT body('security/runHuntingQuery', '{"schema":[],"results":[{"Count":NaN}]}');
SELECT * FROM hz($$SELECT * FROM msgraph_hunting_query('graph', 'DeviceEvents | count')$$);
SELECT body('security/runHuntingQuery', '{"schema":[],"results":[{"Count":1},{"Count":2,"Count":3}]}');
SELECT * FROM hz($$SELECT * FROM msgraph_hunting_query('graph', 'DeviceEvents | count')$$);
SELECT body('security/runHuntingQuery', '{"schema":[{"Name":"Count","Type":"Int64"}],"results":[{"Count":18446744073709551615,"x":1e400}]}');
SELECT h->'Count' AS count, h->'x' = '1e400'::jsonb AS exact
  FROM msgraph_hunting_query('graph', 'DeviceEvents | count') h;

--
-- 14. the same backend served it all, and still serves
--
SELECT emu_reset();
SELECT pg_backend_pid() = :backend_pid AS same_backend;
SELECT count(id) = :alerts AS all_rows FROM hz_alerts;
SELECT * FROM compare_with_emulator('hz_alerts', 'security/alerts_v2');
DROP FOREIGN TABLE hz_alerts, hz_scores, hz_users;
DROP FUNCTION hz, hz_fault, inject, inject_bytes, body;
ALTER SERVER graph OPTIONS (DROP max_retries);
