--
-- reliability: retries (Retry-After in its three forms, backoff, max_retries,
-- statement_timeout), pacing to Graph's throttling limits, cancel and
-- timeouts, TLS, proxies, and secrets kept out of the log even at debug5.
--
-- Times come from the emulator's request log ("at": arrival, in seconds):
-- a wait is never shorter than asked for, and bounds above are loose
-- because the machine may be busy.
--
-- the whole suite logs at debug5; run_regress.sh greps that log for the
-- secrets and the bearer token afterwards
SET log_min_messages = debug5;
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret,
       current_setting('msgraph_test.tls_url') AS tls_url,
       current_setting('msgraph_test.tls_bad_host_url') AS tls_bad_host_url,
       current_setting('msgraph_test.ca_file') AS ca_file,
       current_setting('msgraph_test.other_ca_file') AS other_ca_file,
       current_setting('msgraph_test.proxy_url') AS proxy_url,
       current_setting('msgraph_test.access_token') AS access_token \gset
SELECT emu_reset();

CREATE SERVER rel FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '50');
CREATE USER MAPPING FOR CURRENT_USER SERVER rel
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA rel;
IMPORT FOREIGN SCHEMA security FROM SERVER rel INTO rel;
IMPORT FOREIGN SCHEMA identity_protection FROM SERVER rel INTO rel;

-- Graph requests of the log since the last reset, with the time since the
-- previous one of the same path prefix
CREATE FUNCTION emu_timeline(prefix text)
RETURNS TABLE (n bigint, status int, gap numeric, fault text, throttled text)
LANGUAGE sql AS $$
  SELECT row_number() OVER w, (r->>'status')::int,
         round((r->>'at')::numeric - lag((r->>'at')::numeric) OVER w, 3),
         r->>'fault', r->>'throttled'
    FROM emu_requests() r
   WHERE r->>'kind' = 'graph' AND r->>'path' LIKE '/v1.0/' || prefix || '%'
  WINDOW w AS (ORDER BY (r->>'seq')::int)
  ORDER BY (r->>'seq')::int
$$;
-- this backend's counters, to take differences of
CREATE TEMP TABLE stats0 AS SELECT * FROM msgraph_request_stats();
CREATE FUNCTION stats_delta(OUT requests bigint, OUT retries bigint, OUT throttled_ms bigint)
LANGUAGE sql AS $$
  SELECT s.requests - z.requests, s.retries - z.retries, s.throttled_ms - z.throttled_ms
    FROM msgraph_request_stats() s, stats0 z
$$;
CREATE FUNCTION stats_mark() RETURNS void LANGUAGE sql AS $$
  DELETE FROM stats0; INSERT INTO stats0 SELECT * FROM msgraph_request_stats();
$$;
-- try() with https URLs and the pacing delay masked too
CREATE FUNCTION try_masked(query text, OUT code text, OUT message text,
                           OUT detail text, OUT hint text)
LANGUAGE sql AS $$
  SELECT t.code,
         regexp_replace(t.message, 'https://(127\.0\.0\.1|localhost):\d+', 'https://\1:PORT', 'g'),
         regexp_replace(regexp_replace(t.detail, 'https://(127\.0\.0\.1|localhost):\d+', 'https://\1:PORT', 'g'),
                        'sent in \d+ ms', 'sent in N ms', 'g'),
         t.hint
    FROM try(query) t
$$;

--
-- 1. 502, 503 and 504 are retried with exponential backoff and jitter
-- (0.25-0.5 s, then 0.5-1 s, then 1-2 s) until Graph answers
--
SELECT stats_mark();
SELECT emu_fault('[{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 503, "times": 1},
                   {"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 502, "times": 1},
                   {"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 504, "times": 1}]');
SELECT count(id) FROM rel.secure_scores;
SELECT n, status, fault,
       CASE n WHEN 2 THEN gap BETWEEN 0.25 AND 0.9
              WHEN 3 THEN gap BETWEEN 0.5 AND 1.4
              WHEN 4 THEN gap BETWEEN 1.0 AND 2.4 END AS backoff_ok
  FROM emu_timeline('security/secureScores');
SELECT requests, retries, throttled_ms BETWEEN 1750 AND 3500 AS throttled_ms_ok FROM stats_delta();
-- a 503 with Retry-After waits as long as it says
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 503, "retry_after": "0.4"}');
SELECT count(id) FROM rel.secure_scores;
SELECT n, status, CASE n WHEN 2 THEN gap BETWEEN 0.4 AND 0.8 END AS waited_as_told
  FROM emu_timeline('security/secureScores');

--
-- 2. 429 honours Retry-After in all three forms: integer seconds, decimal
-- seconds, HTTP-date
--
SELECT emu_reset();
SELECT emu_fault('[{"match": {"path_prefix": "/v1.0/security/incidents"}, "action": "status", "status": 429, "retry_after": "1"},
                   {"match": {"path_prefix": "/v1.0/security/incidents"}, "after": 1, "action": "status", "status": 429, "retry_after": "0.6"}]');
SELECT count(id) FROM rel.incidents;
SELECT n, status, fault,
       CASE n WHEN 2 THEN gap BETWEEN 1.0 AND 1.4
              WHEN 4 THEN gap BETWEEN 0.6 AND 1.0 END AS waited_as_told
  FROM emu_timeline('security/incidents');
-- an HTTP-date three seconds ahead (whole seconds: 2 to 3 s from now; a
-- backoff would be at most 1 s)
SELECT emu_reset();
SELECT emu_fault(jsonb_build_object(
  'match', jsonb_build_object('path_prefix', '/v1.0/security/incidents'),
  'action', 'status', 'status', 429,
  'retry_after', to_char(date_trunc('second', now() AT TIME ZONE 'UTC') + interval '3 s',
                         'Dy, DD Mon YYYY HH24:MI:SS "GMT"')));
SELECT count(*) FROM rel.incidents;
SELECT n, status, fault, CASE n WHEN 2 THEN gap BETWEEN 1.95 AND 3.4 END AS waited_until_date
  FROM emu_timeline('security/incidents');
-- EXPLAIN ANALYZE counts the retries and the time waited for them
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents"}, "action": "status", "status": 429, "retry_after": "0.25", "times": 2}');
SELECT explain_filter('EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM rel.incidents');

--
-- 3. identity protection sends no Retry-After: exponential backoff, from
-- 0.5-1 s for a 429
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/identityProtection/riskDetections"}, "action": "status", "status": 429, "times": 2}');
SELECT count(id) FROM rel.risk_detections;
SELECT n, status, fault,
       CASE n WHEN 2 THEN gap BETWEEN 0.5 AND 1.4
              WHEN 3 THEN gap BETWEEN 1.0 AND 2.4 END AS backoff_ok
  FROM emu_timeline('identityProtection/riskDetections');

--
-- 4. past max_retries: 53400 for 429, HV00N for 5xx, each with Graph's
-- request-id and the number of attempts; never a partial result
--
ALTER SERVER rel OPTIONS (ADD max_retries '2');
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 429, "retry_after": "0.1", "times": 10}');
SELECT * FROM try('SELECT count(*) FROM rel.secure_scores');
SELECT count(*) AS requests_sent FROM emu_timeline('security/secureScores');
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 502, "retry_after": "0.1", "times": 10}');
SELECT * FROM try('SELECT count(*) FROM rel.secure_scores');
SELECT count(*) AS requests_sent FROM emu_timeline('security/secureScores');
-- on page 2 of 2: an ERROR, not the first page's rows
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "after": 1, "action": "status", "status": 503, "retry_after": "0.1", "times": 10}');
CREATE TEMP TABLE partial (n bigint);
SELECT * FROM try('INSERT INTO partial SELECT count(id) FROM rel.secure_scores');
SELECT count(*) AS partial_rows FROM partial;
-- max_retries 0: one attempt
ALTER SERVER rel OPTIONS (SET max_retries '0');
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 503}');
SELECT code, message FROM try('SELECT count(*) FROM rel.secure_scores');
ALTER SERVER rel OPTIONS (DROP max_retries);
SELECT * FROM try($$ALTER SERVER rel OPTIONS (ADD max_retries '-1')$$);
SELECT * FROM try($$ALTER SERVER rel OPTIONS (ADD max_retries '101')$$);

--
-- 5. no wait past statement_timeout: the ERROR comes at once, with a HINT
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 429, "retry_after": "30", "times": 10}');
SET statement_timeout = '3s';
SELECT clock_timestamp() AS t0 \gset
SELECT * FROM try_masked('SELECT count(*) FROM rel.secure_scores');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1 s' AS at_once;
-- 5xx: HV00N with the request-id
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 503, "retry_after": "30", "times": 10}');
SELECT * FROM try_masked('SELECT count(*) FROM rel.secure_scores');
-- mid-scan, on page 2: no partial result either
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "after": 1, "action": "status", "status": 429, "retry_after": "30", "times": 10}');
SELECT code FROM try('INSERT INTO partial SELECT count(id) FROM rel.secure_scores');
SELECT count(*) AS partial_rows FROM partial;
RESET statement_timeout;

--
-- 6. transport failures are retried: a reset connection, a timeout
--
SELECT emu_reset();
SELECT count(*) FROM rel.secure_scores;        -- a connection to reuse
SELECT emu_reset();
SELECT stats_mark();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "reset", "times": 2}');
SELECT count(id) FROM rel.secure_scores;
-- curl itself sends a request again once when a reused connection turns
-- out dead: the two resets are one failure to us, or two
SELECT count(*) FILTER (WHERE status = 0) AS resets, count(*) FILTER (WHERE status = 200) AS pages
  FROM emu_timeline('security/secureScores');
SELECT retries BETWEEN 1 AND 2 AS retried FROM stats_delta();
ALTER SERVER rel OPTIONS (ADD timeout_ms '400');
SELECT emu_reset();
SELECT stats_mark();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "slow", "delay_ms": 1500}');
SELECT count(*) FROM rel.secure_scores;
SELECT retries FROM stats_delta();
ALTER SERVER rel OPTIONS (DROP timeout_ms);
-- a truncated body is a transport failure too
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "truncate"}');
SELECT count(id) FROM rel.secure_scores;
SELECT n, status, fault FROM emu_timeline('security/secureScores');
-- what retrying cannot fix is not retried: 400, 404, 500
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 500, "times": 5}');
SELECT code, message FROM try('SELECT count(*) FROM rel.secure_scores');
SELECT count(*) AS requests_sent FROM emu_timeline('security/secureScores');

-- a write is retried only where Graph cannot have acted on it: after a
-- 429 (Graph refuses throttled requests before doing anything), not after
-- a 503 or a connection that broke once the request was out
SELECT NULL::void FROM emu('POST', 'restore');
SELECT d->>'id' AS w1 FROM emu_data('security/alerts_v2') d
 WHERE d->>'status' = 'new' ORDER BY d->>'id' LIMIT 1 \gset
SELECT count(id) FROM rel.alerts WHERE id = :'w1';    -- a connection to reuse
SELECT emu_reset();
SELECT emu_fault('{"match": {"method": "PATCH"}, "action": "status", "status": 429, "retry_after": "0.2"}');
UPDATE rel.alerts SET status = 'inProgress' WHERE id = :'w1' RETURNING id = :'w1' AS updated, status;
SELECT r->>'method' AS method, r->>'status' AS status, r->>'fault' AS fault
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;
SELECT emu_reset();
SELECT emu_fault('{"match": {"method": "PATCH"}, "action": "status", "status": 503}');
SELECT * FROM try(format($q$UPDATE rel.alerts SET status = 'resolved' WHERE id = %L$q$, :'w1'));
SELECT r->>'method' AS method, r->>'status' AS status, r->>'fault' AS fault
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;
-- (no hidden second send either: libcurl would send a request again on
-- its own when a reused connection breaks; a write never reuses one)
SELECT emu_reset();
SELECT emu_fault('{"match": {"method": "POST", "path_prefix": "/v1.0/security/alerts_v2"}, "action": "reset"}');
SELECT code, message FROM try(format($q$SELECT msgraph_add_comment('rel', 'alerts', %L, 'sent once')$q$, :'w1'));
SELECT r->>'method' AS method, r->>'status' AS status, r->>'fault' AS fault
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;
SELECT count(*) FILTER (WHERE c->>'comment' = 'sent once') AS comments_added
  FROM emu_data('security/alerts_v2') d, jsonb_array_elements(d->'comments') c
 WHERE d->>'id' = :'w1';
SELECT NULL::void FROM emu('POST', 'restore');

--
-- 7. a 401 after the token refresh, and a 403: 42501 naming the permission
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents"}, "action": "status", "status": 401, "code": "InvalidAuthenticationToken", "times": 2}');
SELECT * FROM try('SELECT count(*) FROM rel.incidents');
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/identityProtection/riskyUsers"}, "action": "status", "status": 403, "code": "Forbidden", "message": "Missing role permissions on the request."}');
SELECT * FROM try('SELECT count(*) FROM rel.risky_users');

--
-- 8. pacing to Graph's limits in one backend (without preloading), against
-- the emulator enforcing the real ones: identity protection one request per
-- 1.2 s, /security a burst of 8 then one every 0.43 s; no 429
--
SELECT emu_reset();
SELECT emu_config('{"throttle": true}');
SET msgraph_security_fdw.pace_requests = on;
SELECT stats_mark();
SELECT count(id) FROM rel.risk_detections;      -- 150 rows, 3 pages
SELECT n, status, gap >= 1.15 AS paced FROM emu_timeline('identityProtection/riskDetections');
SELECT throttled_ms >= 2000 AS throttled FROM stats_delta();
ALTER FOREIGN TABLE rel.alerts OPTIONS (ADD page_size '10');
SELECT count(id) FROM rel.alerts;               -- 300 rows, 30 pages
-- (request 9 waits for what is left of the first 0.43 s)
SELECT count(*) AS requests,
       count(*) FILTER (WHERE n BETWEEN 2 AND 8 AND gap < 0.3) AS burst,
       count(*) FILTER (WHERE n >= 10 AND gap >= 0.40) AS paced,
       count(*) FILTER (WHERE status = 429) AS throttled
  FROM emu_timeline('security/alerts_v2');
ALTER FOREIGN TABLE rel.alerts OPTIONS (DROP page_size);
-- a 429 all the same (another client of the application) blocks the budget
-- for its Retry-After and halves the rate: one request every 0.86 s, no burst
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "after": 1, "action": "status", "status": 429, "retry_after": "1"}');
ALTER FOREIGN TABLE rel.secure_scores OPTIONS (ADD page_size '20');
SELECT count(id) FROM rel.secure_scores;        -- 90 rows, 5 pages
SELECT n, status, fault,
       CASE WHEN n = 3 THEN gap BETWEEN 1.0 AND 1.5
            WHEN n > 3 THEN gap BETWEEN 0.75 AND 1.5 END AS paced_after_429
  FROM emu_timeline('security/secureScores');
ALTER FOREIGN TABLE rel.secure_scores OPTIONS (DROP page_size);
-- a pacing wait that would end past statement_timeout: 53400 at once
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents"}, "action": "status", "status": 429, "retry_after": "20"}');
ALTER SERVER rel OPTIONS (ADD max_retries '0');
SELECT code FROM try('SELECT count(*) FROM rel.incidents');
SET statement_timeout = '2s';
SELECT * FROM try_masked('SELECT count(*) FROM rel.incidents');
RESET statement_timeout;
ALTER SERVER rel OPTIONS (DROP max_retries);
RESET msgraph_security_fdw.pace_requests;
SELECT emu_reset();

--
-- 9. cancel and statement_timeout stop a hung request, a backoff wait and
-- a pacing wait within a second; the backend stays usable and keeps no
-- socket or handle
--
CREATE EXTENSION dblink;
SELECT dblink_connect('c', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), current_setting('unix_socket_directories')));
SELECT pid AS cpid FROM dblink('c', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT * FROM dblink('c', 'SELECT count(*) FROM rel.secure_scores') AS t(n bigint);
SELECT count(*) AS fds_before FROM pg_ls_dir('/proc/' || :cpid || '/fd') \gset
-- wait_for(cond): poll a condition for up to 10 s (pg_stat_activity afresh)
CREATE FUNCTION wait_for(cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  ok boolean;
  deadline timestamptz := clock_timestamp() + interval '10 s';
BEGIN
  WHILE clock_timestamp() < deadline LOOP
    PERFORM pg_stat_clear_snapshot();
    EXECUTE cond INTO ok;
    IF ok THEN RETURN true; END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RETURN false;
END $$;
-- cancel_when(cond): once cond holds, what the dblink session waits on,
-- then cancel it and measure how long it takes to stop
CREATE FUNCTION cancel_when(cond text, OUT waited boolean, OUT activity text,
                            OUT stop_time interval)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
  waited := wait_for(cond);
  PERFORM pg_stat_clear_snapshot();
  SELECT coalesce(wait_event_type || '/' || wait_event, 'none') INTO activity
    FROM pg_stat_activity WHERE pid = current_setting('rel.cpid')::int;
  t0 := clock_timestamp();
  PERFORM pg_cancel_backend(current_setting('rel.cpid')::int);
  PERFORM wait_for($q$SELECT dblink_is_busy('c') = 0$q$);
  stop_time := clock_timestamp() - t0;
END $$;
SELECT set_config('rel.cpid', :'cpid', false) IS NOT NULL AS ok;
-- a hung request
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "hang"}');
SELECT dblink_send_query('c', 'SELECT count(*) FROM rel.secure_scores');
SELECT waited, activity, stop_time < interval '1 s' AS stopped_within_1s
  FROM cancel_when($$SELECT count(*) > 0 FROM emu_requests() r WHERE r->>'status' IS NULL$$);
SELECT * FROM dblink_get_result('c', false) AS t(n bigint);
SELECT * FROM dblink_get_result('c') AS t(n bigint);    -- the end of its results
-- a backoff wait (Retry-After: 30)
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 429, "retry_after": "30"}');
SELECT dblink_send_query('c', 'SELECT count(*) FROM rel.secure_scores');
SELECT waited, activity, stop_time < interval '1 s' AS stopped_within_1s
  FROM cancel_when($$SELECT count(*) > 0 FROM emu_requests() r WHERE r->>'status' = '429'$$);
SELECT * FROM dblink_get_result('c', false) AS t(n bigint);
SELECT * FROM dblink_get_result('c') AS t(n bigint);    -- the end of its results
-- a pacing wait: the budget is blocked for 30 s after a 429
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "status", "status": 429, "retry_after": "30"}');
SELECT * FROM dblink_exec('c', 'SET msgraph_security_fdw.pace_requests = on');
SELECT * FROM dblink_exec('c', 'SET statement_timeout = ''5s''');
SELECT * FROM dblink('c', $$SELECT code FROM try('SELECT count(*) FROM rel.secure_scores')$$) AS t(code text);
SELECT * FROM dblink_exec('c', 'RESET statement_timeout');
SELECT dblink_send_query('c', 'SELECT count(*) FROM rel.secure_scores');
SELECT waited, activity, stop_time < interval '1 s' AS stopped_within_1s
  FROM cancel_when($$SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = current_setting('rel.cpid')::int$$);
SELECT * FROM dblink_get_result('c', false) AS t(n bigint);
SELECT * FROM dblink_get_result('c') AS t(n bigint);    -- the end of its results
-- (it was the budget it waited for: nothing was sent after the 429)
SELECT count(*) AS requests_sent FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT * FROM dblink_exec('c', 'RESET msgraph_security_fdw.pace_requests');
-- statement_timeout on a hung request: stopped at the timeout, not later
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/secureScores"}, "action": "hang"}');
SET statement_timeout = '700ms';
SELECT clock_timestamp() AS t0 \gset
SELECT count(id) FROM rel.secure_scores;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz BETWEEN interval '0.7 s' AND interval '1.6 s' AS stopped_at_timeout;
-- the session is usable and holds no more descriptors than before
SELECT emu_reset();
SELECT * FROM dblink('c', 'SELECT count(*) FROM rel.secure_scores') AS t(n bigint);
SELECT count(*) - :fds_before AS fds_gained FROM pg_ls_dir('/proc/' || :cpid || '/fd');
SELECT dblink_disconnect('c');

--
-- 10. TLS: the emulator over HTTPS with a test CA made for this run (token
-- requests too); a wrong CA or host name is an ERROR, never retried
--
CREATE SERVER tls_good FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'tls_url', login_url :'tls_url', ca_file :'ca_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls_good
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE tls_alerts (id text) SERVER tls_good OPTIONS (resource 'security/alerts_v2', page_size '7');
SELECT count(id) FROM tls_alerts;              -- 30 alerts over 5 pages of https nextLinks
-- (a server whose user mapping holds a bearer token: the first request
-- is a Graph request, whose failures are shown here)
CREATE SERVER tls_bad FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (graph_url :'tls_url', ca_file :'other_ca_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls_bad OPTIONS (access_token :'access_token');
CREATE FOREIGN TABLE tls_bad_alerts (id text) SERVER tls_bad OPTIONS (resource 'security/alerts_v2');
-- the wrong CA, the system's store, a host name the certificate is not for
SELECT * FROM try_masked('SELECT count(*) FROM tls_bad_alerts');
ALTER SERVER tls_bad OPTIONS (DROP ca_file);
SELECT * FROM try_masked('SELECT count(*) FROM tls_bad_alerts');
ALTER SERVER tls_bad OPTIONS (ADD ca_file :'ca_file', SET graph_url :'tls_bad_host_url');
SELECT * FROM try_masked('SELECT count(*) FROM tls_bad_alerts');
-- the token request fails the same way
ALTER SERVER tls_good OPTIONS (SET ca_file :'other_ca_file');
SELECT code, message FROM try_masked('SELECT count(*) FROM tls_alerts');
ALTER SERVER tls_good OPTIONS (SET ca_file :'ca_file');
SELECT count(id) FROM tls_alerts;
-- no option turns verification off; ca_file is for superusers, absolute
SELECT * FROM try($$ALTER SERVER tls_good OPTIONS (ADD ssl_verify 'false')$$);
SELECT * FROM try($$ALTER SERVER tls_good OPTIONS (SET ca_file 'ca.crt')$$);
CREATE ROLE rel_user;
GRANT USAGE ON FOREIGN DATA WRAPPER msgraph_security_fdw TO rel_user;
SET ROLE rel_user;
SELECT * FROM try($$CREATE SERVER mine FOREIGN DATA WRAPPER msgraph_security_fdw OPTIONS (ca_file '/etc/passwd')$$);
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER msgraph_security_fdw FROM rel_user;
DROP ROLE rel_user;

--
-- 11. proxies: the proxy option tunnels Graph and token requests with
-- CONNECT; the proxies of the server's environment are never used
--
CREATE FUNCTION proxy_log() RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp.proxy_out') IS NULL THEN
    CREATE TEMP TABLE proxy_out (line text);
  END IF;
  TRUNCATE proxy_out;
  EXECUTE format('COPY proxy_out FROM PROGRAM %L WITH (FORMAT csv, QUOTE E''\x01'', DELIMITER E''\x02'')',
                 'curl -sS --noproxy ''*'' ' || quote_shell(current_setting('msgraph_test.proxy_url') || '/_proxy/log'));
  RETURN QUERY SELECT line::jsonb FROM proxy_out WHERE line <> '';
END $$;
-- the server's environment names the test proxy for every scheme ...
-- (what a program the backend starts inherits: the backend's environment)
CREATE TEMP TABLE backend_env (line text);
COPY backend_env FROM PROGRAM 'env' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02');
SELECT split_part(line, '=', 1) AS variable, split_part(line, '=', 2) = :'proxy_url' AS names_test_proxy
  FROM backend_env WHERE line ~* '^[a-z_]*proxy=' ORDER BY 1;
-- ... and neither a Graph nor a token request goes through it
SELECT count(*) AS proxied_before FROM proxy_log();
SELECT msgraph_reset_tokens();
SELECT count(*) FROM rel.risky_users;
SELECT count(*) FROM tls_alerts;
SELECT count(*) AS proxied_after FROM proxy_log();
-- the proxy option: loopback hosts (the emulators, plain HTTP or HTTPS)
-- are reached directly, never through it ...
SELECT regexp_replace(:'base', '^http://', '') AS emu_hostport,
       regexp_replace(:'tls_url', '^https://', '') AS tls_hostport,
       regexp_replace(current_setting('msgraph_test.tls_proxied_url'), '^https://', '') AS proxied_hostport,
       current_setting('msgraph_test.tls_proxied_url') AS tls_proxied_url \gset
ALTER SERVER rel OPTIONS (ADD proxy :'proxy_url');
ALTER SERVER tls_good OPTIONS (ADD proxy :'proxy_url');
SELECT count(*) FROM rel.risky_users;
SELECT count(*) FROM tls_alerts;
SELECT count(*) AS proxied_loopback FROM proxy_log();
-- ... other hosts are tunnelled: the HTTPS emulator under a name only the
-- test proxy resolves, Graph and token requests alike
ALTER SERVER tls_good OPTIONS (SET graph_url :'tls_proxied_url', SET login_url :'tls_proxied_url');
SELECT msgraph_reset_tokens();
SELECT count(*) FROM tls_alerts;
SELECT p->>'method' AS method, p->>'status' AS status,
       CASE p->>'target' WHEN :'emu_hostport' THEN 'emulator' WHEN :'tls_hostport' THEN 'tls emulator'
                         WHEN :'proxied_hostport' THEN 'tls emulator by the proxy''s name'
                         ELSE p->>'target' END AS target, count(*) > 0 AS used
  FROM proxy_log() p GROUP BY 1, 2, 3 ORDER BY 3;
ALTER SERVER rel OPTIONS (DROP proxy);
ALTER SERVER tls_good OPTIONS (DROP proxy, SET graph_url :'tls_url', SET login_url :'tls_url');
-- no credentials (server options are readable by every user), no SOCKS, no path
SELECT * FROM try($$ALTER SERVER rel OPTIONS (ADD proxy 'http://user:hunter2@127.0.0.1:3128')$$);
SELECT * FROM try($$ALTER SERVER rel OPTIONS (ADD proxy 'socks5://127.0.0.1:1080')$$);
SELECT * FROM try($$ALTER SERVER rel OPTIONS (ADD proxy 'http://127.0.0.1:3128/path')$$);

--
-- 12. secrets: a pre-acquired token never shows in EXPLAIN, errors, NOTICEs
-- or the log (at debug5 all along; run_regress.sh greps the log for the
-- other secrets).  The token is a fresh one (the auth suites revoked the
-- older ones) and no statement's text holds it: PostgreSQL logs the text
-- of a failing statement.
--
SELECT set_config('msgraph_test.fresh_token', e->>'access_token', false) <> '' AS minted
  FROM emu('POST', 'token') e;
CREATE SERVER tok FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (graph_url :'base', max_retries '0');
DO $$ BEGIN
  EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER tok OPTIONS (access_token %L)',
                 current_setting('msgraph_test.fresh_token'));
END $$;
CREATE FOREIGN TABLE tok_alerts (id text, title text) SERVER tok OPTIONS (resource 'security/alerts_v2');
SELECT count(*) FROM tok_alerts;
SELECT count(*) AS lines,
       count(*) FILTER (WHERE position(current_setting('msgraph_test.fresh_token') IN l) > 0) AS with_token
  FROM explain_filter('EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM tok_alerts') l;
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "action": "status", "status": 401}');
SELECT code, position(current_setting('msgraph_test.fresh_token') IN concat(message, detail, hint)) AS token_at
  FROM try('SELECT count(*) FROM tok_alerts');
-- a proxy that cannot be reached: HV00N, whose HINT names the proxy (for
-- a host that is not loopback: those are never proxied)
ALTER SERVER tok OPTIONS (ADD proxy 'http://127.0.0.1:9', SET graph_url 'https://graph.proxy-test.invalid');
SELECT code, regexp_replace(message, '\d+', 'N', 'g') AS message, hint FROM try('SELECT count(*) FROM tok_alerts');
-- the server log so far, at debug5, has neither the token nor the secret
SELECT position(current_setting('msgraph_test.fresh_token') IN l) AS token_at,
       position(current_setting('msgraph_test.client_secret') IN l) AS secret_at,
       position('Bear' || 'er ' IN l) AS bearer_at,
       l ~ 'DEBUG:  msgraph_security_fdw: ' AS has_our_debug_lines
  FROM pg_read_file(current_setting('msgraph_test.work_dir') || '/log/postmaster.log') l;
SELECT emu_reset();
DROP SERVER tok CASCADE;
DROP SERVER tls_bad CASCADE;
DROP SERVER tls_good CASCADE;
DROP SCHEMA rel CASCADE;
DROP SERVER rel CASCADE;
DROP EXTENSION dblink;
