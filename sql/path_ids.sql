--
-- path_ids: ids are path segments.  Wherever a value becomes the {id} of a
-- request path (lookups by id, parameterized lookups, UPDATE, the comment
-- functions, the per-incident fallback of $expand) it is percent-encoded
-- into one segment, and ".", ".." and "" are never sent: a lookup finds no
-- row, an UPDATE changes none, a function raises 22023 naming the
-- parameter.  Every check is on the request-target exactly as the
-- emulator received it on the request line.
--
SET timezone = 'UTC';
SELECT NULL::void FROM emu('POST', 'restore');

-- ids_sent(statement): run it and say what it did (rows, or the ERROR's
-- SQLSTATE and message) and which Graph requests went out: method,
-- request-target as received, status, and the body of a write
CREATE FUNCTION ids_sent(stmt text, OUT outcome text, OUT requests text)
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  code text;
  msg text;
BEGIN
  PERFORM emu_reset();
  BEGIN
    EXECUTE stmt;
    GET DIAGNOSTICS n = ROW_COUNT;
    outcome := n || ' rows';
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    outcome := code || ' ' || msg;
  END;
  SELECT coalesce(string_agg(concat_ws(' ', r->>'method', r->>'target', '->', r->>'status',
                                       r->>'body'),
                             E'\n' ORDER BY (r->>'seq')::int), '(none)')
    INTO requests
    FROM emu_requests() r WHERE r->>'kind' = 'graph';
END $$;

CREATE TEMP TABLE odd_ids (n int PRIMARY KEY, id text);
INSERT INTO odd_ids VALUES
  (1, '.'), (2, '..'), (3, ''), (4, 'a/b'), (5, 'a?b'), (6, 'a#b'),
  (7, '%2e%2e'), (8, '..%2f..');
SELECT d->>'id' AS real_id FROM emu_data('security/alerts_v2') d
 ORDER BY d->>'id' LIMIT 1 \gset

--
-- lookups by id: nothing sent for ".", ".." and ""; every other id is one
-- encoded segment ("/" "?" "#" "%" included), which no alert has
--
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids, ids_sent(format('SELECT id FROM graph.alerts WHERE id = %L', id)) s
 ORDER BY n;
SELECT * FROM ids_sent(format($q$SELECT id FROM graph.alerts
                              WHERE id = ANY (ARRAY['.', '..', '', 'a/b', %L])$q$, :'real_id'));
SELECT * FROM ids_sent($q$SELECT id FROM graph.incidents WHERE id IN ('..', '', '1/..')$q$);
-- EXPLAIN says when no request goes out
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  SELECT id FROM graph.alerts WHERE id = '..'$q$) AS line;
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  SELECT id FROM graph.alerts WHERE id = ANY ('{., .., ""}')$q$) AS line;
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  SELECT id FROM graph.alerts WHERE id = ANY ('{.., a/b}')$q$) AS line;
SELECT line FROM explain_filter($q$EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT id FROM graph.alerts WHERE id = ''$q$) AS line;

-- a parameter as the id, under a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE by_id(text) AS SELECT id FROM graph.alerts WHERE id = $1;
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids, ids_sent(format('EXECUTE by_id(%L)', id)) s
 WHERE n IN (2, 3, 4, 7)
 ORDER BY n;
DEALLOCATE by_id;
RESET plan_cache_mode;

-- a join from a local table: one parameterized lookup per outer row
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  SELECT o.n, a.id FROM odd_ids o JOIN graph.alerts a ON a.id = o.id$q$) AS line;
SELECT * FROM ids_sent('SELECT o.n, a.id FROM odd_ids o JOIN graph.alerts a ON a.id = o.id');
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

--
-- UPDATE: no PATCH for ".", ".." and "" (UPDATE 0); the others are one
-- encoded segment, which Graph does not know (404: UPDATE 0)
--
-- straight to PATCH (WHERE id = c)
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids,
       ids_sent(format($q$UPDATE graph.alerts SET status = 'inProgress' WHERE id = %L$q$, id)) s
 ORDER BY n;
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  UPDATE graph.alerts SET status = 'inProgress' WHERE id = ''$q$) AS line;
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  UPDATE graph.alerts SET status = 'inProgress' WHERE id = 'a/b'$q$) AS line;
UPDATE graph.alerts SET status = 'inProgress' WHERE id = '..' RETURNING id;
-- SET values that read the row: the rows are looked up first, none found
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids,
       ids_sent(format($q$UPDATE graph.alerts SET assigned_to = title WHERE id = %L$q$, id)) s
 WHERE n IN (2, 3, 4)
 ORDER BY n;
-- a join with the local table, one lookup per row of it
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT line FROM explain_filter($q$EXPLAIN (VERBOSE, COSTS OFF)
  UPDATE graph.alerts a SET status = 'inProgress' FROM odd_ids o WHERE a.id = o.id$q$) AS line;
SELECT * FROM ids_sent($q$UPDATE graph.alerts a SET status = 'inProgress'
                        FROM odd_ids o WHERE a.id = o.id$q$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- a parameter as the id, under a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE take(text) AS UPDATE graph.alerts SET assigned_to = 'x@contoso.com' WHERE id = $1;
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids, ids_sent(format('EXECUTE take(%L)', id)) s
 WHERE n IN (1, 2, 3, 8)
 ORDER BY n;
DEALLOCATE take;
RESET plan_cache_mode;

--
-- functions: 22023 naming the parameter for ".", ".." and "", before any
-- request; other ids are one encoded segment (comments: 404) or a value of
-- the body (risky users: Graph ignores ids it does not know)
--
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids,
       ids_sent(format($q$SELECT msgraph_add_comment('graph', 'alerts', %L, 'x')$q$, id)) s
 ORDER BY n;
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids,
       ids_sent(format($q$SELECT msgraph_add_comment('graph', 'incidents', %L, 'x')$q$, id)) s
 WHERE n IN (1, 2, 3, 4, 8)
 ORDER BY n;
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids,
       ids_sent(format($q$SELECT msgraph_dismiss_risky_users('graph', ARRAY['u1', %L])$q$, id)) s
 ORDER BY n;
SELECT n, quote_literal(id) AS id, s.*
  FROM odd_ids,
       ids_sent(format($q$SELECT msgraph_confirm_compromised('graph', ARRAY[%L])$q$, id)) s
 WHERE n IN (1, 2, 3, 4)
 ORDER BY n;
SELECT * FROM try($q$SELECT msgraph_add_comment('graph', 'alerts', '..', 'x')$q$);
SELECT * FROM try($q$SELECT msgraph_dismiss_risky_users('graph', ARRAY['u1', ''])$q$);

--
-- the per-incident fallback of $expand=alerts: an incident id from Graph
-- becomes a path segment too
--
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents", "query_contains": "$expand=alerts"}, "action": "status", "status": 500, "code": "InternalServerError", "message": "expand failed", "times": 10}');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents", "query_contains": "$filter"}, "action": "inject", "field": "id", "raw": "\"..\"", "entity": 0, "times": 1}');
SELECT * FROM try($q$SELECT id, jsonb_array_length(alerts) FROM graph.incidents$q$);
SELECT r->>'method' AS method, r->>'target' LIKE '%/security/incidents?%' AS list,
       r->>'target' LIKE '%/alerts%' AS alerts_of_one, r->>'status' AS status
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;
SELECT emu_reset();
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents", "query_contains": "$expand=alerts"}, "action": "status", "status": 500, "code": "InternalServerError", "message": "expand failed", "times": 10}');
SELECT emu_fault('{"match": {"path_prefix": "/v1.0/security/incidents", "query_contains": "$filter"}, "action": "inject", "field": "id", "raw": "\"a/b\"", "entity": 0, "times": 1}');
SELECT * FROM try($q$SELECT id, jsonb_array_length(alerts) FROM graph.incidents$q$);
SELECT r->>'method' AS method, r->>'target' AS target, r->>'status' AS status
  FROM emu_requests() r
 WHERE r->>'kind' = 'graph' AND r->>'target' LIKE '%/alerts%'
 ORDER BY (r->>'seq')::int;

-- nothing was changed
SELECT e->>'ok' AS restored FROM emu('POST', 'restore') e;
SELECT emu_reset();
DROP FUNCTION ids_sent(text);
