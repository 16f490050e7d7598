--
-- streams: a scan fetched in parallel time windows returns exactly the rows
-- of the sequential scan
--
SET timezone = 'UTC';
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret \gset
CREATE SERVER graph_streams FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '10', streams '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_streams
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA par;
IMPORT FOREIGN SCHEMA security LIMIT TO (alerts, incidents) FROM SERVER graph_streams INTO par;

-- four windows after one probe for the oldest timestamp.  The windows end
-- at the scan's start, so how the rows fall into them (and so the number
-- of pages, and which windows split again as others finish) depends on
-- the day the test runs: each window must page its own rows in pages of
-- ten, in the order of createdDateTime, and the requests must be the
-- pages plus the probe.
SELECT emu_reset();
SELECT regexp_replace(e, 'Graph (Requests|Pages|Windows): \d+', 'Graph \1: N')
  FROM explain_filter($$EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM par.alerts WHERE severity <> 'low'$$) e;
WITH g AS (
  SELECT r->'params'->>'$top' = '1' AS probe,
         r->'params'->>'$orderby' AS orderby,
         regexp_replace(r->'params'->>'$filter', '.*createdDateTime ge (\S+).*', '\1') AS win,
         (r->>'rows')::int AS rows
    FROM emu_requests() r WHERE r->>'kind' = 'graph'),
w AS (SELECT probe, orderby, win, count(*) AS requests, sum(rows) AS rows FROM g GROUP BY 1, 2, 3)
SELECT probe, orderby, count(*) >= CASE WHEN probe THEN 1 ELSE 4 END AS windows,
       sum(rows) >= CASE WHEN probe THEN 1 ELSE 218 END AS rows,
       bool_and(requests = greatest(1, ceil(rows / 10.0))) AS pages_of_ten
  FROM w GROUP BY 1, 2 ORDER BY 1;
SELECT emu_reset();
CREATE TEMP TABLE streams_explain AS
  SELECT e FROM explain_filter($$EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM par.alerts WHERE severity <> 'low'$$) e;
SELECT (SELECT substring(e FROM 'Graph Requests: (\d+)')::int FROM streams_explain WHERE e ~ 'Graph Requests')
     = (SELECT substring(e FROM 'Graph Pages: (\d+)')::int + 1 FROM streams_explain WHERE e ~ 'Graph Pages')
   AND (SELECT substring(e FROM 'Graph Requests: (\d+)')::int FROM streams_explain WHERE e ~ 'Graph Requests')
     = (SELECT count(*) FROM emu_requests() r WHERE r->>'kind' = 'graph') AS requests_are_pages_and_probe;
DROP TABLE streams_explain;

-- the same rows as paging sequentially, field by field
SELECT same($$SELECT * FROM par.alerts$$, $$SELECT * FROM graph.alerts$$);
SELECT same($$SELECT id, status, created_date_time FROM par.incidents WHERE severity IN ('high', 'medium')$$,
            $$SELECT id, status, created_date_time FROM graph.incidents WHERE severity IN ('high', 'medium')$$);
SELECT same($$SELECT id FROM par.alerts WHERE created_date_time >= '2026-04-01'$$,
            $$SELECT id FROM graph.alerts WHERE created_date_time >= '2026-04-01'$$);
-- rows of one month: the first window holds them all, the other three
-- find nothing, and the first is split again as each of those finishes,
-- with the rows at a split point returned once
ALTER FOREIGN TABLE par.alerts OPTIONS (ADD page_size '3');
SELECT emu_reset();
CREATE TEMP TABLE split_explain AS
  SELECT e FROM explain_filter($$EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM par.alerts WHERE created_date_time >= '2026-05-01'$$) e;
SELECT substring(e FROM 'Graph Windows: (\d+)')::int > 4 AS split_again
  FROM split_explain WHERE e ~ 'Graph Windows';
DROP TABLE split_explain;
SELECT count(*) FILTER (WHERE r->'params'->>'$filter' ~ 'createdDateTime lt') > 3 AS bounded_windows
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
-- the same rows as paging sequentially whatever the page size, so
-- wherever the splits fall (ties included)
DO $$
BEGIN
  FOR n IN 2..7 LOOP
    EXECUTE format('ALTER FOREIGN TABLE par.alerts OPTIONS (SET page_size %L)', n);
    RAISE NOTICE 'page_size %: %', n,
      same($q$SELECT * FROM par.alerts WHERE created_date_time >= '2026-04-15'$q$,
           $q$SELECT * FROM graph.alerts WHERE created_date_time >= '2026-04-15'$q$);
  END LOOP;
END
$$;
-- Graph not honouring $orderby: a window sent out of order before any
-- split ends splitting (the windows still partition the range)...
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2", "query_contains": "$count=true"}, "action": "reverse", "times": 1000}');
CREATE TEMP TABLE split_explain AS
  SELECT e FROM explain_filter($$EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM par.alerts WHERE created_date_time >= '2026-05-01'$$) e;
SELECT e FROM split_explain WHERE e ~ 'Graph (Streams|Windows)';
DROP TABLE split_explain;
SELECT (SELECT string_agg(id, ',' ORDER BY id) FROM par.alerts WHERE created_date_time >= '2026-05-01')
     = (SELECT string_agg(id, ',' ORDER BY id) FROM graph.alerts WHERE created_date_time >= '2026-05-01')
       AS same_rows;
-- ...and one after a split, which relied on the order, is an ERROR
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "after": 8, "action": "reverse", "times": 1000}');
SELECT code, message, hint
  FROM try($$SELECT count(id) FROM par.alerts WHERE created_date_time >= '2026-05-01'$$);
SELECT emu_reset();
ALTER FOREIGN TABLE par.alerts OPTIONS (DROP page_size);

-- nothing selected: the probe finds nothing, the scan pages sequentially
SELECT emu_reset();
SELECT count(id) FROM par.alerts WHERE created_date_time > '2030-01-01';
SELECT count(*) AS requests FROM emu_requests() r WHERE r->>'kind' = 'graph';

-- ordered and limited scans page sequentially
SELECT explain_filter($$EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM par.alerts ORDER BY created_date_time LIMIT 3$$);
SELECT emu_reset();
SELECT id FROM par.alerts ORDER BY created_date_time LIMIT 3;
SELECT count(*) AS requests FROM emu_requests() r WHERE r->>'kind' = 'graph';
-- a failure in one window is an ERROR
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/alerts_v2"}, "after": 3, "action": "status", "status": 500, "code": "generalException", "message": "Internal error", "times": 50}');
SELECT * FROM try('SELECT count(id) FROM par.alerts');
SELECT emu_reset();
-- and the backend goes on
SELECT count(id) FROM par.alerts;
DROP SCHEMA par CASCADE;
DROP SERVER graph_streams CASCADE;
