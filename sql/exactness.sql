--
-- exactness: a condition that is not sent is never taken as sent (count,
-- LIMIT hint, lookups, EXPLAIN); an enum literal in the wrong letter case
-- selects no row without a request; the predicates BI tools write (casts
-- to date, date_trunc, BETWEEN, NOT IN, run-time values) are sent as what
-- they mean.  Every result is checked against a local copy of the data,
-- and every request against the emulator's log.
--
SET timezone = 'UTC';
CREATE TEMP TABLE l_alerts AS SELECT * FROM graph.alerts;
CREATE TEMP TABLE l_incidents AS SELECT * FROM graph.incidents;
CREATE TEMP TABLE l_risky_users AS SELECT * FROM graph.risky_users;

-- run_logged(query): what the query returned (a row count, or its count(*)) and
-- the Graph requests it made, one line each: $filter (the snapshot bound
-- masked), $top and $count
CREATE FUNCTION run_logged(query text, OUT result text, OUT requests text)
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM emu_reset();
  IF query ~* '^\s*SELECT\s+count\(\*\)' THEN
    EXECUTE query INTO n;
    result := 'count ' || n;
  ELSIF query ~* '^\s*EXECUTE' THEN
    EXECUTE query;
    GET DIAGNOSTICS n = ROW_COUNT;
    result := n || ' rows';
  ELSE
    EXECUTE format('SELECT count(*) FROM (%s) s', query) INTO n;
    result := n || ' rows';
  END IF;
  SELECT coalesce(string_agg(format('$filter=%s $top=%s%s',
                                    coalesce(regexp_replace(r->'params'->>'$filter',
                                                            '(and )?createdDateTime le \S+$', '<snapshot>'),
                                             '(none)'),
                                    r->'params'->>'$top',
                                    CASE WHEN r->'params' ? '$count' THEN ' $count' ELSE '' END),
                             E'\n' ORDER BY (r->>'seq')::int), '(no request)')
    INTO requests
    FROM emu_requests() r WHERE r->>'kind' = 'graph';
END $$;

-- rows_of(query): a digest of the query's rows, in a canonical order
CREATE FUNCTION rows_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  EXECUTE format('SELECT coalesce(string_agg(s::text, '','' ORDER BY s::text), '''') FROM (%s) s', query)
    INTO t;
  RETURN md5(t);
END $$;

-- q(query): the Graph Request line of EXPLAIN VERBOSE, and the Filter left local
CREATE OR REPLACE FUNCTION q(query text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(trim(l), '^Graph Request: GET http://EMULATOR/v1.0/', '')
    FROM explain_filter('EXPLAIN (VERBOSE, COSTS OFF) ' || query) l
   WHERE l ~ '(Graph Request|Filter):'
$$;

--
-- 1. count(*) never counts a condition that is not sent
--
SELECT * FROM run_logged($$SELECT count(*) FROM graph.alerts WHERE severity = 'High'$$);
SELECT count(*) FROM l_alerts WHERE severity = 'High';
SELECT * FROM run_logged($$SELECT count(*) FROM graph.alerts WHERE severity = 'High' AND status = 'new'$$);
SELECT * FROM run_logged($$SELECT count(*) FROM graph.incidents WHERE status = 'Active'$$);
SELECT count(*) FROM l_incidents WHERE status = 'Active';
SELECT * FROM run_logged($$SELECT count(*) FROM graph.risky_users WHERE risk_level = 'High'$$);
SELECT count(*) FROM l_risky_users WHERE risk_level = 'High';
-- through a view
CREATE TEMP VIEW high_alerts AS SELECT * FROM graph.alerts WHERE severity = 'High';
SELECT * FROM run_logged($$SELECT count(*) FROM high_alerts$$);
-- a literal that is no member at all (maybe a new one): counted locally,
-- from a scan without the condition, never from an unfiltered $count
SELECT * FROM run_logged($$SELECT count(*) FROM graph.alerts WHERE severity = 'critical'$$) s
 WHERE s.requests !~ 'count';
SELECT count(*) FROM l_alerts WHERE severity = 'critical';
-- a condition that stays local with one that is sent: no $count either
SELECT result, requests !~ 'count' AS no_count FROM run_logged(
  $$SELECT count(*) FROM graph.alerts WHERE severity = 'high' AND title LIKE '%Suspicious%'$$);
SELECT count(*) FROM l_alerts WHERE severity = 'high' AND title LIKE '%Suspicious%';
-- exact conditions: one $count request, the same count
SELECT * FROM run_logged($$SELECT count(*) FROM graph.alerts WHERE severity = 'high' AND status = 'new'$$);
SELECT count(*) FROM l_alerts WHERE severity = 'high' AND status = 'new';

--
-- 2. a LIMIT over a condition that stays local pages with full pages
-- (the server's page_size, 8), never $top=5
--
SELECT result, requests ~ '\$top=5' AS top5, requests ~ '\$top=8' AS full_pages
  FROM run_logged($$SELECT id FROM graph.alerts WHERE title LIKE '%Suspicious%' LIMIT 5$$);
SELECT result, requests ~ '\$top=5' AS top5, requests ~ '\$top=8' AS full_pages
  FROM run_logged($$SELECT id FROM graph.alerts WHERE severity = 'critical' OR assigned_to = 'nobody' LIMIT 5$$);
SELECT result, requests ~ '\$top=5' AS top5
  FROM run_logged($$SELECT id FROM graph.alerts WHERE severity = 'high' AND description LIKE '%a%' LIMIT 5$$);
-- every condition exact: the hint holds
SELECT * FROM run_logged($$SELECT id FROM graph.alerts WHERE severity = 'high' LIMIT 5$$);
-- a generic plan planned with the hint, run with a value that is no member:
-- the condition is evaluated locally, so the pages are full again
SET plan_cache_mode = force_generic_plan;
PREPARE lim(text) AS SELECT id FROM graph.alerts WHERE severity = $1 LIMIT 5;
SELECT q('EXECUTE lim(''high'')');
SELECT result, requests ~ '\$top=5' AS top5 FROM run_logged($$EXECUTE lim('critical')$$);
SELECT result, requests FROM run_logged($$EXECUTE lim('high')$$);
RESET plan_cache_mode;
DEALLOCATE lim;

--
-- 3. a member in other letter case can never match: no row, no request, a
-- NOTICE naming the member
--
SELECT * FROM run_logged($$SELECT id FROM graph.alerts WHERE severity = 'High'$$);
SELECT * FROM run_logged($$SELECT id FROM graph.alerts WHERE status IN ('New', 'RESOLVED')$$);
SELECT * FROM run_logged($$SELECT id FROM graph.alerts WHERE investigation_state = 'Running'$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity = 'High'$$);
-- in an OR the branch is dropped; an IN keeps its members
SELECT * FROM run_logged($$SELECT id FROM graph.alerts WHERE severity = 'High' OR status = 'new'$$);
SELECT rows_of($$SELECT id FROM graph.alerts WHERE severity = 'High' OR status = 'new'$$) =
       rows_of($$SELECT id FROM l_alerts WHERE severity = 'High' OR status = 'new'$$) AS same_rows;
SELECT * FROM run_logged($$SELECT id FROM graph.alerts WHERE severity IN ('High', 'low')$$);
SELECT count(*) FROM l_alerts WHERE severity IN ('High', 'low');
-- <> and NOT hold for every row: evaluated locally, the same rows
SELECT rows_of($$SELECT id FROM graph.alerts WHERE severity <> 'High'$$) =
       rows_of($$SELECT id FROM l_alerts WHERE severity <> 'High'$$) AS same_rows;
SELECT rows_of($$SELECT id FROM graph.alerts WHERE NOT (classification = 'TruePositive' OR status = 'new')$$) =
       rows_of($$SELECT id FROM l_alerts WHERE NOT (classification = 'TruePositive' OR status = 'new')$$) AS same_rows;
-- a parameter holding one, under a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE sev(text) AS SELECT id FROM graph.alerts WHERE severity = $1;
SELECT * FROM run_logged($$EXECUTE sev('Medium')$$);
RESET plan_cache_mode;
DEALLOCATE sev;
-- a lookup by id with one: nothing sent
SELECT id AS some_id FROM l_alerts ORDER BY id LIMIT 1 \gset
SELECT * FROM run_logged(format($$SELECT id FROM graph.alerts WHERE id = %L AND severity = 'HIGH'$$, :'some_id'));

--
-- 9. BI predicates: day casts, date_trunc and BETWEEN become the time range
-- they mean (exact: no local Filter), in the session's time zone
--
SELECT created_date_time::date AS busy_day FROM l_alerts
 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1 \gset
SELECT q(format($$SELECT id FROM graph.alerts WHERE created_date_time::date = %L$$, :'busy_day'));
SELECT q($$SELECT id FROM graph.alerts WHERE created_date_time::date = current_date - 1$$);
SELECT q(format($$SELECT id FROM graph.alerts WHERE date_trunc('day', created_date_time) = %L$$, :'busy_day'));
SELECT q(format($$SELECT id FROM graph.alerts WHERE created_date_time::date BETWEEN %L::date - 3 AND %L$$,
                :'busy_day', :'busy_day'));
SELECT q($$SELECT id FROM graph.alerts WHERE date_trunc('month', last_update_date_time) >= '2026-04-15'$$);
-- a value that starts no day: no row, nothing sent (the timestamp compares
-- as timestamptz, in the session's time zone, as PostgreSQL does)
SELECT * FROM run_logged(format($$SELECT id FROM graph.alerts WHERE date_trunc('day', created_date_time) = %L::date + time '12:00'$$,
                          :'busy_day'));
-- the same rows as locally, also in another time zone
SELECT tz, w,
       rows_of('SELECT id FROM graph.alerts WHERE ' || w) = rows_of('SELECT id FROM l_alerts WHERE ' || w) AS same_rows,
       (SELECT count(*) FROM emu_requests() r WHERE r->>'kind' = 'graph' AND NOT r->'params' ? '$filter') AS unfiltered
  FROM (VALUES ('UTC'), ('America/New_York'), ('Asia/Kolkata')) z(tz),
       LATERAL (SELECT set_config('timezone', tz, false)) s,
       LATERAL (SELECT emu_reset()) e,
       unnest(ARRAY[format('created_date_time::date = %L', :'busy_day'),
                    format('created_date_time::date BETWEEN %L::date - 7 AND %L', :'busy_day', :'busy_day'),
                    format('date_trunc(''day'', created_date_time) = %L::timestamptz', :'busy_day'),
                    format('date_trunc(''hour'', created_date_time) > %L::timestamptz + interval ''90 minutes''', :'busy_day'),
                    format('date_trunc(''week'', last_update_date_time) <= %L::timestamptz', :'busy_day'),
                    format('date_trunc(''month'', created_date_time) < %L::timestamptz', :'busy_day')]) w
 ORDER BY 1, 2;
SET timezone = 'UTC';
-- count(*) with run-time values uses $count, as constants do
SELECT result = (SELECT 'count ' || count(*) FROM l_alerts WHERE created_date_time > now() - interval '60 days') AS same_count,
       requests ~ '\$count' AS by_count,
       regexp_replace(requests, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z', 'TIMESTAMP') AS requests
  FROM run_logged($$SELECT count(*) FROM graph.alerts WHERE created_date_time > now() - interval '60 days'$$);
SET plan_cache_mode = force_generic_plan;
PREPARE cnt(text, timestamptz) AS
  SELECT count(*) FROM graph.alerts WHERE status = $1 AND created_date_time >= $2;
SELECT q($$EXECUTE cnt('new', '2026-03-01')$$);
SELECT * FROM run_logged($$EXECUTE cnt('new', '2026-03-01')$$);
EXECUTE cnt('new', '2026-03-01');
SELECT count(*) FROM l_alerts WHERE status = 'new' AND created_date_time >= '2026-03-01';
SELECT * FROM run_logged($$EXECUTE cnt('New', '2026-03-01')$$);
EXECUTE cnt('New', '2026-03-01');
RESET plan_cache_mode;
DEALLOCATE cnt;
SELECT * FROM run_logged(format($$SELECT count(*) FROM graph.alerts WHERE created_date_time::date = %L$$, :'busy_day'));
SELECT count(*) FROM l_alerts WHERE created_date_time::date = :'busy_day';
-- NOT IN on an enum that is never null: "not (... in ...)", exact
SELECT q($$SELECT id FROM graph.alerts WHERE severity NOT IN ('low', 'informational')$$);
SELECT * FROM run_logged($$SELECT count(*) FROM graph.alerts WHERE severity <> ALL (ARRAY['low', 'informational'])$$);
SELECT count(*) FROM l_alerts WHERE severity <> ALL (ARRAY['low', 'informational']);
-- ... with a literal that is no member: sent without it, rechecked
SELECT q($$SELECT id FROM graph.alerts WHERE severity NOT IN ('low', 'critical')$$);
-- ... on a nullable enum, or with a NULL in the list: local
SELECT q($$SELECT id FROM graph.alerts WHERE classification NOT IN ('truePositive')$$);
SELECT q($$SELECT id FROM graph.alerts WHERE severity NOT IN ('low', NULL)$$);
SELECT rows_of($$SELECT id FROM graph.alerts WHERE severity NOT IN ('low', 'critical', 'High')$$) =
       rows_of($$SELECT id FROM l_alerts WHERE severity NOT IN ('low', 'critical', 'High')$$) AS same_rows;
