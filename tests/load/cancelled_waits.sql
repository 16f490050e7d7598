-- tests/load/cancelled_waits.sql (run by run_cancelled_waits.sh): one
-- role's waits for the identity protection budget, cancelled, must not
-- hold up another role of the same tenant.
--
-- Variables: base (the emulator), secret (the valid app's secret), waits
-- (how many cancelled waits), sessions (backends the other role uses).
CREATE EXTENSION msgraph_security_fdw;
CREATE EXTENSION dblink;

-- the valid role (this session's): an application with its secret
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA graph;
IMPORT FOREIGN SCHEMA identity_protection LIMIT TO (risky_users) FROM SERVER graph INTO graph;

-- the other role: a server of its own on the same Graph and tenant, with a
-- bogus pre-acquired token (Graph answers 401)
CREATE ROLE other_role;
CREATE SERVER other FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', max_retries '0');
CREATE USER MAPPING FOR other_role SERVER other OPTIONS (access_token 'not-a-valid-token');
CREATE SCHEMA other;
IMPORT FOREIGN SCHEMA identity_protection LIMIT TO (risky_users) FROM SERVER other INTO other;
GRANT USAGE ON SCHEMA other TO other_role;
GRANT SELECT ON other.risky_users TO other_role;

-- the other role's sessions: dblink connections c1..cN, each SET ROLE
SELECT count(dblink_connect('c' || i, format('dbname=%s port=%s host=%s', current_database(),
         current_setting('port'), current_setting('unix_socket_directories')))) AS connected
  FROM generate_series(1, :sessions) i;
SELECT count(dblink_exec('c' || i, 'SET ROLE other_role')) AS other_role_sessions
  FROM generate_series(1, :sessions) i;
CREATE TABLE other_sessions AS
  SELECT 'c' || i AS conn, pid
    FROM generate_series(1, :sessions) i,
         dblink('c' || i, 'SELECT pg_backend_pid()') AS t(pid int);

-- cancelled_waits(n): the other role's sessions each run a query on the
-- identity protection budget, in rounds; the runs that wait for their
-- turn are cancelled, until n were.  A run whose turn comes before the
-- cancel is sent, and refused (401); one cancelled while its request was
-- on the wire reached Graph too (run_cancelled_waits.sh subtracts those
-- the emulator saw, and asks for a round more than it needs).
CREATE FUNCTION cancelled_waits(n int, OUT cancelled int, OUT sent int, OUT rounds int,
                                OUT other text)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  msg text;
  pending int;
BEGIN
  cancelled := 0;
  sent := 0;
  rounds := 0;
  WHILE cancelled < n AND other IS NULL LOOP
    rounds := rounds + 1;
    FOR s IN SELECT * FROM other_sessions LOOP
      PERFORM dblink_send_query(s.conn, 'SELECT count(*) FROM other.risky_users');
    END LOOP;
    -- until every run waits for its turn or is over (a backend that has
    -- not read its query yet shows as idle)
    LOOP
      PERFORM pg_stat_clear_snapshot();
      SELECT count(*) INTO pending
        FROM other_sessions o JOIN pg_stat_activity a USING (pid)
       WHERE dblink_is_busy(o.conn) = 1
         AND NOT (a.state = 'active' AND a.wait_event_type IS NOT DISTINCT FROM 'Extension');
      EXIT WHEN pending = 0;
      PERFORM pg_sleep(0.002);
    END LOOP;
    PERFORM pg_cancel_backend(o.pid)
       FROM other_sessions o JOIN pg_stat_activity a USING (pid)
      WHERE dblink_is_busy(o.conn) = 1 AND a.state = 'active';
    FOR s IN SELECT * FROM other_sessions LOOP
      PERFORM * FROM dblink_get_result(s.conn, false) AS t(n bigint);
      msg := dblink_error_message(s.conn);
      PERFORM * FROM dblink_get_result(s.conn, false) AS t(n bigint);
      IF msg LIKE '%canceling statement due to user request%' THEN
        cancelled := cancelled + 1;
      ELSIF msg LIKE '%HTTP status 401%' THEN
        sent := sent + 1;
      ELSE
        other := msg;
      END IF;
    END LOOP;
  END LOOP;
END $$;

SET client_min_messages = warning;      -- dblink's NOTICE for each cancel
SELECT cancelled, sent, rounds, other FROM cancelled_waits(:waits) \gset
RESET client_min_messages;
\echo other role: :cancelled runs cancelled in :rounds rounds of :sessions sessions, :sent seen sent (401)
SELECT dblink_disconnect(conn) FROM other_sessions;

-- the valid role, in a backend of its own: how long its one request waits.
-- The budget requires at most one interval (1.2 s) after the last request
-- that was sent; a wait past statement_timeout would be 53400 at once.
SET statement_timeout = '60s';
SELECT throttled_ms AS before_ms FROM msgraph_request_stats() \gset
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS users FROM graph.risky_users \gset
SELECT (throttled_ms - :before_ms) AS waited_ms,
       round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000) AS query_ms
  FROM msgraph_request_stats() \gset
\echo valid role: :users risky users, waited :waited_ms ms for its turn, query took :query_ms ms
