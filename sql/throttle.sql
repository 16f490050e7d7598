--
-- throttle: pacing to Graph's throttling limits (in one backend, without
-- preloading), against the emulator enforcing the real ones.
--
-- 1. every pacing wait counts, in EXPLAIN ANALYZE's Graph Throttled ms and
--    in msgraph_request_stats() alike: sequential paging (a page ahead),
--    parallel windows, lookups by id, the $expand fallback, count(*) and
--    joins;
-- 2. a page fetched ahead goes out at its turn in the budget, not when
--    the transfers are next driven (by then another request of the same
--    budget may have gone): a hash join of the two identity protection
--    tables, both paged, gets no 429;
-- 3. a pacing wait that ends in a cancel gives its turn back: after
--    cancelled waits of another role on the same tenant, a valid role's
--    query waits no longer than the budget's rate requires.
--
-- The waits depend on the machine's speed, so the checks are bounds:
-- something was waited for, both counters agree to the millisecond, the
-- emulator refused nothing.
--
SET timezone = 'UTC';
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret \gset
SELECT emu_reset();

CREATE SERVER thr FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER thr
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA thr;
IMPORT FOREIGN SCHEMA security LIMIT TO (alerts, incidents) FROM SERVER thr INTO thr;
IMPORT FOREIGN SCHEMA identity_protection LIMIT TO (risky_users, risk_detections)
  FROM SERVER thr INTO thr;
-- two pages each: 60 users, 150 detections
ALTER FOREIGN TABLE thr.risky_users OPTIONS (ADD page_size '30');
ALTER FOREIGN TABLE thr.risk_detections OPTIONS (ADD page_size '75');
-- local copies, fetched before pacing is switched on
CREATE TEMP TABLE local_users AS SELECT * FROM thr.risky_users;
CREATE TEMP TABLE local_detections AS SELECT * FROM thr.risk_detections;
SELECT count(*) AS users FROM local_users;
SELECT count(*) AS detections FROM local_detections;

-- waits(query[, fault]): query under EXPLAIN ANALYZE, with the emulator
-- enforcing Graph's limits (and the fault, if any): the Graph Throttled ms
-- of its foreign scans (summed), what msgraph_request_stats() counted
-- meanwhile, whether a scan ran in parallel windows, and the Graph
-- requests and 429s of the emulator's log
CREATE FUNCTION waits(query text, fault jsonb DEFAULT NULL,
                      OUT explained bigint, OUT counted bigint, OUT windows boolean,
                      OUT requests bigint, OUT throttled bigint)
LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
  before bigint;
BEGIN
  PERFORM emu_reset();
  PERFORM emu_config('{"throttle": true}');
  IF fault IS NOT NULL THEN
    PERFORM emu_fault(fault);
  END IF;
  SELECT throttled_ms INTO before FROM msgraph_request_stats();
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
  SELECT throttled_ms - before INTO counted FROM msgraph_request_stats();
  SELECT coalesce(sum(v::text::bigint), 0) INTO explained
    FROM jsonb_path_query(plan, 'strict $.**."Graph Throttled ms"') v;
  windows := jsonb_path_exists(plan, 'strict $.**."Graph Windows"');
  SELECT count(*), count(*) FILTER (WHERE r->>'status' = '429')
    INTO requests, throttled
    FROM emu_requests() r WHERE r->>'kind' = 'graph';
END $$;

SET msgraph_security_fdw.pace_requests = on;

--
-- 1. EXPLAIN ANALYZE counts every pacing wait, as msgraph_request_stats()
-- does
--
-- sequential paging, the second page fetched ahead (one request per 1.2 s)
SELECT explained > 0 AS waited, explained = counted AS counters_agree, requests, throttled
  FROM waits('SELECT id FROM thr.risk_detections');
-- count(*): one $count request each, the second after the first's interval
SELECT explained > 0 AS waited, explained = counted AS counters_agree, requests, throttled
  FROM waits($$SELECT (SELECT count(*) FROM thr.risky_users) AS users,
                      (SELECT count(*) FROM thr.risky_users WHERE risk_level = 'high') AS high$$);
SELECT count(*) FILTER (WHERE r->'params'->>'$count' = 'true') AS count_requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
-- lookups by id: one request each
SELECT array_agg(id ORDER BY id) AS ids FROM (SELECT id FROM local_users ORDER BY id LIMIT 3) s \gset
SELECT explained > 0 AS waited, explained = counted AS counters_agree, requests, throttled
  FROM waits(format('SELECT * FROM thr.risky_users WHERE id = ANY (%L)', :'ids'));
-- parallel windows over /security (a burst of 8, then one every 0.43 s):
-- the probe and fifteen pages of 20
ALTER SERVER thr OPTIONS (ADD streams '2');
ALTER FOREIGN TABLE thr.alerts OPTIONS (ADD page_size '20');
SELECT explained > 0 AS waited, explained = counted AS counters_agree, windows,
       requests >= 16 AS requests, throttled
  FROM waits('SELECT id FROM thr.alerts');
ALTER FOREIGN TABLE thr.alerts OPTIONS (DROP page_size);
ALTER SERVER thr OPTIONS (DROP streams);
-- the $expand fallback: the list without $expand, then one request per
-- incident for its alerts (after the windows, /security has no burst left)
SELECT explained > 0 AS waited, explained = counted AS counters_agree, throttled
  FROM waits('SELECT id, alerts FROM thr.incidents LIMIT 3',
             '{"match": {"path_prefix": "/v1.0/security/incidents", "query_contains": "$expand=alerts"}, "action": "status", "status": 500, "code": "InternalServerError", "message": "expand failed", "times": 100}');
SELECT CASE WHEN r->>'path' ~ '/alerts$' THEN 'per incident' ELSE 'list' END AS request,
       r->>'status' AS status, (r->'params' ? '$expand') AS expand, count(*)
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

--
-- 2. a hash join of the two identity protection tables, each paged a page
-- ahead: the outer scan's second page is started before the inner table
-- is read, and must go out at its turn, not next to the inner scan's own
-- second page
--
SET enable_mergejoin = off;
SET enable_nestloop = off;
SELECT explain_filter($$EXPLAIN (COSTS OFF)
  SELECT u.user_principal_name, d.id FROM thr.risky_users u
    JOIN thr.risk_detections d ON d.user_id = u.id$$);
SELECT emu_reset();
SELECT emu_config('{"throttle": true}');
CREATE TEMP TABLE joined AS
  SELECT u.user_principal_name, d.id FROM thr.risky_users u
    JOIN thr.risk_detections d ON d.user_id = u.id;
SELECT count(*) AS requests,
       count(*) FILTER (WHERE (r->>'status')::int = 429) AS throttled
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT same($$SELECT * FROM joined$$,
            $$SELECT u.user_principal_name, d.id FROM local_users u
                JOIN local_detections d ON d.user_id = u.id$$);
SELECT explained > 0 AS waited, explained = counted AS counters_agree, requests, throttled
  FROM waits($$SELECT u.user_principal_name, d.id FROM thr.risky_users u
                 JOIN thr.risk_detections d ON d.user_id = u.id$$);
RESET enable_mergejoin;
RESET enable_nestloop;

--
-- 3. cancelled waits give their turn back.  Another role, with a bogus
-- access_token on a server of the same tenant, shares the identity
-- protection budget (Graph counts it per tenant, for all applications).
-- Its queries are cancelled while they wait for their turn, 300 times, in
-- a backend that a valid role then uses: that role's query must wait no
-- longer than one interval of the budget (1.2 s) after the last request
-- that was actually sent.
--
CREATE ROLE thr_other;
CREATE SERVER thr_other FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', max_retries '0');
CREATE USER MAPPING FOR thr_other SERVER thr_other OPTIONS (access_token 'not-a-valid-token');
CREATE SCHEMA thr_other;
IMPORT FOREIGN SCHEMA identity_protection LIMIT TO (risky_users)
  FROM SERVER thr_other INTO thr_other;
GRANT USAGE ON SCHEMA thr_other TO thr_other;
GRANT SELECT ON thr_other.risky_users TO thr_other;

CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('thr', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), current_setting('unix_socket_directories')));
SELECT pid AS thr_pid FROM dblink('thr', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT set_config('thr.pid', :'thr_pid', false) IS NOT NULL AS ok;
SELECT * FROM dblink_exec('thr', 'SET msgraph_security_fdw.pace_requests = on');
SELECT * FROM dblink_exec('thr', 'SET ROLE thr_other');

-- cancelled_waits(n): run the other role's query until n of its runs have
-- been cancelled while waiting for their turn.  A run whose turn comes at
-- once is refused by Graph (401) and counted as sent; one cancelled while
-- its request was on the wire reached Graph too: the emulator's log says
-- how many did, and those do not count as cancelled waits.
CREATE FUNCTION cancelled_waits(n int, OUT waits int, OUT sent int, OUT other text)
LANGUAGE plpgsql AS $$
DECLARE
  backend int := current_setting('thr.pid')::int;
  cancelled int := 0;
  msg text;
  waiting boolean;
BEGIN
  waits := 0;
  sent := 0;
  WHILE waits < n AND other IS NULL LOOP
    PERFORM dblink_send_query('thr', 'SELECT count(*) FROM thr_other.risky_users');
    LOOP
      PERFORM pg_stat_clear_snapshot();
      SELECT wait_event_type = 'Extension' AND state = 'active' INTO waiting
        FROM pg_stat_activity WHERE pid = backend;
      IF waiting THEN
        PERFORM pg_cancel_backend(backend);
        EXIT;
      END IF;
      EXIT WHEN dblink_is_busy('thr') = 0;
      PERFORM pg_sleep(0.002);
    END LOOP;
    PERFORM * FROM dblink_get_result('thr', false) AS t(n bigint);
    msg := dblink_error_message('thr');
    PERFORM * FROM dblink_get_result('thr', false) AS t(n bigint);
    IF msg LIKE '%canceling statement due to user request%' THEN
      cancelled := cancelled + 1;
    ELSIF msg LIKE '%HTTP status 401%' THEN
      sent := sent + 1;
    ELSE
      other := msg;
    END IF;
    IF cancelled >= n THEN
      -- less the runs that reached Graph but were not seen sent
      waits := cancelled - ((SELECT count(*) FROM emu_requests() r
                              WHERE r->>'kind' = 'graph')::int - sent);
    END IF;
  END LOOP;
END $$;

SELECT emu_reset();
SELECT emu_config('{"throttle": true}');
SET client_min_messages = warning;       -- dblink's NOTICE for each cancel
SELECT waits, sent < 60 AS few_sent, other FROM cancelled_waits(300);
RESET client_min_messages;
-- what reached Graph were the runs that were sent, each refused
SELECT count(*) FILTER (WHERE r->>'status' = '401') > 0 AS refused,
       count(*) FILTER (WHERE r->>'status' <> '401') AS other
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
-- the valid role, in the same backend: its one request waits at most for
-- the interval after the last request sent; before, every cancelled wait
-- kept its 1.2 s and the query waited six minutes (here: 53400 at once)
SELECT * FROM dblink_exec('thr', 'RESET ROLE');
SELECT * FROM dblink_exec('thr', 'SET statement_timeout = ''10s''');
SELECT throttled_ms AS before_ms FROM dblink('thr', 'SELECT throttled_ms FROM msgraph_request_stats()')
  AS t(throttled_ms bigint) \gset
SELECT * FROM dblink('thr', 'SELECT count(*) FROM thr.risky_users') AS t(n bigint);
SELECT throttled_ms - :before_ms < 2400 AS waited_less_than_two_intervals
  FROM dblink('thr', 'SELECT throttled_ms FROM msgraph_request_stats()') AS t(throttled_ms bigint);
SELECT r->>'status' AS status FROM emu_requests() r
 WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int DESC LIMIT 1;
SELECT dblink_disconnect('thr');

--
-- 4. a full bucket table never leaves a budget unpaced.  A backend has 128
-- buckets; 130 tenants (one server, its tenant_id changed each time), each
-- blocked for 30 s by a 429, hold them all.  A new tenant then takes the
-- one used least recently and is paced: its second request waits its
-- turn.  (Before, it found no idle bucket and went unpaced.)
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/identityProtection"}, "action": "status", "status": 429, "retry_after": "30", "times": 1000}');
CREATE SERVER thr_many FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id 'tenant-0.example.com', graph_url :'base', login_url :'base',
           max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER thr_many OPTIONS (access_token 'not-a-valid-token');
CREATE SCHEMA thr_many;
IMPORT FOREIGN SCHEMA identity_protection LIMIT TO (risky_users)
  FROM SERVER thr_many INTO thr_many;
CREATE FUNCTION many_tenants(n int) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    EXECUTE format('ALTER SERVER thr_many OPTIONS (SET tenant_id %L)', 'tenant-' || i || '.example.com');
    RETURN QUERY SELECT code FROM try('SELECT count(*) FROM thr_many.risky_users');
  END LOOP;
END $$;
SELECT code, count(*) FROM many_tenants(130) code GROUP BY code;
SELECT emu_reset();
ALTER SERVER thr_many OPTIONS (SET tenant_id 'fresh.example.com');
SELECT code FROM try('SELECT count(*) FROM thr_many.risky_users');
SELECT code FROM try('SELECT count(*) FROM thr_many.risky_users');
SELECT n, status, gap >= 1.0 AS paced
  FROM (SELECT row_number() OVER w AS n, r->>'status' AS status,
               (r->>'at')::numeric - lag((r->>'at')::numeric) OVER w AS gap
          FROM emu_requests() r WHERE r->>'kind' = 'graph'
        WINDOW w AS (ORDER BY (r->>'seq')::int)) s;

RESET msgraph_security_fdw.pace_requests;
SELECT emu_reset();
DROP FUNCTION many_tenants(int);
DROP SCHEMA thr_many CASCADE;
DROP SERVER thr_many CASCADE;
DROP FUNCTION cancelled_waits(int);
DROP FUNCTION waits(text, jsonb);
DROP SCHEMA thr_other CASCADE;
DROP SERVER thr_other CASCADE;
DROP ROLE thr_other;
DROP SERVER thr CASCADE;
DROP SCHEMA thr;
