--
-- writes_values: what an UPDATE may set is checked before any PATCH.  An
-- enum column set to a value that is not a member of Graph's enum
-- ('Resolved', 'closed', the unknownFutureValue sentinel) is an ERROR
-- (22P02) whose HINT names the member that differs only in case, or the
-- members; constants are refused at plan time, values computed per row as
-- the rows are found, before the first PATCH.  Setting a property Graph
-- does not let one change stays an ERROR (0A000).  The request log shows
-- that no PATCH went out.
--
SET timezone = 'UTC';
SELECT NULL::void FROM emu('POST', 'restore');
SELECT d->>'id' AS a1 FROM emu_data('security/alerts_v2') d
 WHERE d->>'status' = 'new' ORDER BY d->>'id' LIMIT 1 \gset
SELECT d->>'id' AS a2 FROM emu_data('security/alerts_v2') d
 WHERE d->>'status' = 'new' ORDER BY d->>'id' OFFSET 1 LIMIT 1 \gset
SELECT d->>'id' AS i1 FROM emu_data('security/incidents') d
 WHERE d->>'status' = 'active' ORDER BY d->>'id' LIMIT 1 \gset

-- the Graph requests since the last emu_reset(): method and request-target
CREATE FUNCTION requests_sent(OUT method text, OUT target text)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT r->>'method', r->>'target'
    FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int
$$;

--
-- constants: refused when the statement is planned, nothing sent
--
SELECT emu_reset();
SELECT * FROM try(format($q$UPDATE graph.alerts SET status = 'Resolved' WHERE id = %L$q$, :'a1'));
SELECT * FROM try(format($q$UPDATE graph.alerts SET status = 'closed' WHERE id = %L$q$, :'a1'));
SELECT * FROM try(format($q$UPDATE graph.alerts SET status = 'unknownFutureValue' WHERE id = %L$q$, :'a1'));
SELECT * FROM try(format($q$UPDATE graph.alerts SET classification = 'TruePositive', determination = 'malware'
                             WHERE id = %L$q$, :'a1'));
SELECT * FROM try(format($q$UPDATE graph.alerts SET determination = 'Malware ' WHERE id = %L$q$, :'a1'));
SELECT * FROM try(format($q$UPDATE graph.incidents SET status = 'Active' WHERE id = %L$q$, :'i1'));
-- the row path (a WHERE that is not an id): still refused at plan time,
-- even when no row matches
SELECT * FROM try($q$UPDATE graph.alerts SET status = 'Resolved' WHERE severity = 'high'$q$);
SELECT * FROM try($q$UPDATE graph.alerts SET status = 'Resolved' WHERE severity = 'nonexistent'$q$);
-- and under a dry run (no NOTICE: nothing would be sent either)
SET msgraph_security_fdw.dry_run = on;
SELECT * FROM try(format($q$UPDATE graph.alerts SET status = 'Resolved' WHERE id = %L$q$, :'a1'));
RESET msgraph_security_fdw.dry_run;
-- EXPLAIN plans the statement, so it refuses it too
SELECT * FROM try(format($q$EXPLAIN UPDATE graph.alerts SET status = 'Resolved' WHERE id = %L$q$, :'a1'));
-- a column of another type over an enum property: the text it sends is checked
CREATE FOREIGN TABLE my_alerts (
  id text,
  state varchar(20) OPTIONS (property 'status')
) SERVER graph OPTIONS (resource 'security/alerts_v2');
SELECT * FROM try(format($q$UPDATE my_alerts SET state = 'Resolved' WHERE id = %L$q$, :'a1'));
SELECT count(*) AS graph_requests FROM requests_sent();

--
-- values known only at run time: checked before the first PATCH
--
-- a parameter (generic plan: the direct PATCH by id)
SET plan_cache_mode = force_generic_plan;
PREPARE set_status(text, text) AS UPDATE graph.alerts SET status = $2 WHERE id = $1;
SELECT emu_reset();
SELECT * FROM try(format('EXECUTE set_status(%L, %L)', :'a1', 'Resolved'));
SELECT * FROM requests_sent();
DEALLOCATE set_status;
RESET plan_cache_mode;
-- values computed per row: every row's value is checked as the rows are
-- found, so the bad one of the second row stops the first row's PATCH too
SELECT emu_reset();
SELECT * FROM try(format($q$UPDATE graph.alerts a SET status = v.s
                              FROM (VALUES (%L, 'resolved'), (%L, 'Resolved')) v(id, s)
                             WHERE a.id = v.id$q$, :'a1', :'a2'));
SELECT method, count(*) FROM requests_sent() GROUP BY 1 ORDER BY 1;
SELECT emu_reset();
SELECT * FROM try(format($q$UPDATE graph.alerts
                              SET status = CASE WHEN id = %L THEN 'inProgress' ELSE 'In Progress' END
                            WHERE id IN (%L, %L)$q$, :'a1', :'a1', :'a2'));
SELECT method, count(*) FROM requests_sent() GROUP BY 1 ORDER BY 1;

--
-- members go through, evolvable ones included (the extension always sends
-- Prefer: include-unknown-enum-members)
--
SELECT emu_reset();
UPDATE graph.alerts SET status = 'inProgress', classification = 'truePositive',
                        determination = 'malware'
 WHERE id = :'a1' RETURNING status, classification, determination;
UPDATE graph.incidents SET status = 'awaitingAction' WHERE id = :'i1' RETURNING status;
UPDATE my_alerts SET state = 'resolved' WHERE id = :'a2' RETURNING state;
SELECT * FROM requests_sent();

--
-- a property Graph does not let one change: still refused, before anything
--
SELECT emu_reset();
SELECT * FROM try(format($q$UPDATE graph.alerts SET severity = 'high' WHERE id = %L$q$, :'a1'));
SELECT * FROM try(format($q$UPDATE graph.incidents SET display_name = 'x' WHERE id = %L$q$, :'i1'));
SELECT count(*) AS graph_requests FROM requests_sent();

-- the emulator's data back as generated, for the suites that follow
SELECT e->>'ok' AS restored FROM emu('POST', 'restore') e;
DROP FOREIGN TABLE my_alerts;
DROP FUNCTION requests_sent();
