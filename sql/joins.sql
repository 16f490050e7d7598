--
-- joins: a join from a small local table to a Graph table sends one request
-- per outer row (a get by id, or a filtered list request) in inner, left,
-- semi and anti joins alike, also under generic plans; results equal those
-- over a local copy, and no unfiltered list request goes out.
--
SET timezone = 'UTC';
CREATE TEMP TABLE l_alerts AS SELECT * FROM graph.alerts;

-- an analyst's inventory: five alerts Graph has, one it does not, with
-- owners and the first device of each alert's evidence
CREATE TEMP TABLE inv (alert_id text, owner text, device text);
INSERT INTO inv
SELECT id, 'analyst' || (row_number() OVER (ORDER BY id)) % 2 || '@contoso.com',
       evidence_device_names[1]
  FROM l_alerts WHERE cardinality(evidence_device_names) > 0 ORDER BY id LIMIT 5;
INSERT INTO inv VALUES ('da000000000000000000_0', 'nobody@contoso.com', 'no-such-host');
ANALYZE inv;

-- joined(foreign query, local query): whether the rows are the same, and
-- the requests the foreign one made: gets by id, filtered list requests and
-- list requests filtered by nothing but the snapshot bound
CREATE FUNCTION joined(fq text, lq text, OUT same_rows boolean, OUT rows bigint,
                       OUT by_id bigint, OUT filtered bigint, OUT unfiltered bigint)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM emu_reset();
  IF fq ~* '^\s*EXECUTE' THEN
    EXECUTE fq;
    GET DIAGNOSTICS rows = ROW_COUNT;
  ELSE
    EXECUTE format('SELECT count(*) FROM (%s) s', fq) INTO rows;
  END IF;
  SELECT count(*) FILTER (WHERE r->>'path' !~ '/alerts_v2$'),
         count(*) FILTER (WHERE r->>'path' ~ '/alerts_v2$' AND
                                r->'params'->>'$filter' ~ '(eq|any|in \()'),
         count(*) FILTER (WHERE r->>'path' ~ '/alerts_v2$' AND
                                coalesce(r->'params'->>'$filter', '') !~ '(eq|any|in \()')
    INTO by_id, filtered, unfiltered
    FROM emu_requests() r WHERE r->>'kind' = 'graph';
  IF lq IS NOT NULL THEN
    EXECUTE format('SELECT count(*) = 0 FROM (((%1$s) EXCEPT ALL (%2$s)) UNION ALL ((%2$s) EXCEPT ALL (%1$s))) s',
                   fq, lq) INTO same_rows;
  END IF;
END $$;

-- plan(query): the join and scan nodes of the plan, and the Graph requests
CREATE FUNCTION plan(query text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT regexp_replace(trim(l), '^Graph Request: GET http://EMULATOR/v1.0/', '')
    FROM explain_filter('EXPLAIN (VERBOSE, COSTS OFF) ' || query) l
   WHERE l ~ '(Join|Nested Loop|Scan on|Graph Request|Hash$|Memoize)'
$$;

-- by id: inner, left, IN, EXISTS, NOT EXISTS
SELECT plan($$SELECT i.alert_id, a.title FROM inv i LEFT JOIN graph.alerts a ON a.id = i.alert_id$$);
SELECT * FROM joined($$SELECT i.alert_id, a.title FROM inv i JOIN graph.alerts a ON a.id = i.alert_id$$,
                     $$SELECT i.alert_id, a.title FROM inv i JOIN l_alerts a ON a.id = i.alert_id$$);
SELECT * FROM joined($$SELECT i.alert_id, a.title FROM inv i LEFT JOIN graph.alerts a ON a.id = i.alert_id$$,
                     $$SELECT i.alert_id, a.title FROM inv i LEFT JOIN l_alerts a ON a.id = i.alert_id$$);
SELECT * FROM joined($$SELECT a.id, a.status FROM graph.alerts a WHERE a.id IN (SELECT alert_id FROM inv)$$,
                     $$SELECT a.id, a.status FROM l_alerts a WHERE a.id IN (SELECT alert_id FROM inv)$$);
SELECT * FROM joined($$SELECT i.* FROM inv i WHERE EXISTS (SELECT 1 FROM graph.alerts a WHERE a.id = i.alert_id)$$,
                     $$SELECT i.* FROM inv i WHERE EXISTS (SELECT 1 FROM l_alerts a WHERE a.id = i.alert_id)$$);
SELECT plan($$SELECT i.* FROM inv i WHERE NOT EXISTS (SELECT 1 FROM graph.alerts a WHERE a.id = i.alert_id)$$);
SELECT * FROM joined($$SELECT i.* FROM inv i WHERE NOT EXISTS (SELECT 1 FROM graph.alerts a WHERE a.id = i.alert_id)$$,
                     $$SELECT i.* FROM inv i WHERE NOT EXISTS (SELECT 1 FROM l_alerts a WHERE a.id = i.alert_id)$$);
-- with a condition of its own on the Graph side
SELECT * FROM joined($$SELECT i.alert_id, a.severity FROM inv i LEFT JOIN graph.alerts a
                         ON a.id = i.alert_id AND a.severity IN ('high', 'medium')$$,
                     $$SELECT i.alert_id, a.severity FROM inv i LEFT JOIN l_alerts a
                         ON a.id = i.alert_id AND a.severity IN ('high', 'medium')$$);

-- by a filterable property or by evidence: one filtered request per outer row
SELECT plan($$SELECT i.owner, a.id FROM inv i LEFT JOIN graph.alerts a ON a.assigned_to = i.owner$$);
SELECT * FROM joined($$SELECT i.owner, a.id FROM inv i LEFT JOIN graph.alerts a ON a.assigned_to = i.owner$$,
                     $$SELECT i.owner, a.id FROM inv i LEFT JOIN l_alerts a ON a.assigned_to = i.owner$$);
SELECT plan($$SELECT i.device, a.id FROM inv i LEFT JOIN graph.alerts a ON i.device = ANY (a.evidence_device_names)$$);
SELECT * FROM joined($$SELECT i.device, a.id FROM inv i LEFT JOIN graph.alerts a ON i.device = ANY (a.evidence_device_names)$$,
                     $$SELECT i.device, a.id FROM inv i LEFT JOIN l_alerts a ON i.device = ANY (a.evidence_device_names)$$);
SELECT * FROM joined($$SELECT i.device FROM inv i WHERE NOT EXISTS
                         (SELECT 1 FROM graph.alerts a WHERE i.device = ANY (a.evidence_device_names))$$,
                     $$SELECT i.device FROM inv i WHERE NOT EXISTS
                         (SELECT 1 FROM l_alerts a WHERE i.device = ANY (a.evidence_device_names))$$);

-- a generic plan, as BI tools and drivers make them
SET plan_cache_mode = force_generic_plan;
PREPARE lj(text) AS
  SELECT i.alert_id, a.title, a.status FROM inv i LEFT JOIN graph.alerts a ON a.id = i.alert_id
   WHERE i.owner <> $1 ORDER BY 1;
SELECT plan($$EXECUTE lj('x')$$);
SELECT rows, by_id, filtered, unfiltered FROM joined($$EXECUTE lj('analyst1@contoso.com')$$, NULL);
EXECUTE lj('analyst1@contoso.com');
SELECT i.alert_id, a.title, a.status FROM inv i LEFT JOIN l_alerts a ON a.id = i.alert_id
 WHERE i.owner <> 'analyst1@contoso.com' ORDER BY 1;
RESET plan_cache_mode;
DEALLOCATE lj;

-- the cost model: k lookups against a full scan of (by the catalog's
-- guess) 10,000 alerts in pages of 2,000, so 5 requests: lookups win while
-- k is below that, the full scan once k is well above it
CREATE FOREIGN TABLE alerts_2000 (id text, title text)
  SERVER graph OPTIONS (resource 'security/alerts_v2', page_size '2000');
CREATE TEMP TABLE many AS SELECT id AS alert_id FROM l_alerts;
ANALYZE many;
SELECT k, (SELECT string_agg(p, ' / ') FROM plan(format(
         'SELECT m.alert_id, a.title FROM (SELECT alert_id FROM many ORDER BY alert_id LIMIT %s) m
           LEFT JOIN alerts_2000 a ON a.id = m.alert_id', k)) p WHERE p ~ 'Join|Loop') AS join_kind
  FROM unnest(ARRAY[1, 2, 4, 20, 100]) k;
-- ... and with pages of 8 (the server's), lookups win until k is large
SELECT k, (SELECT string_agg(p, ' / ') FROM plan(format(
         'SELECT m.alert_id, a.title FROM (SELECT alert_id FROM many ORDER BY alert_id LIMIT %s) m
           LEFT JOIN graph.alerts a ON a.id = m.alert_id', k)) p WHERE p ~ 'Join|Loop') AS join_kind
  FROM unnest(ARRAY[20, 100]) k;
SELECT * FROM joined($$SELECT m.alert_id, a.title FROM (SELECT alert_id FROM many ORDER BY alert_id LIMIT 20) m
                         LEFT JOIN alerts_2000 a ON a.id = m.alert_id$$,
                     $$SELECT m.alert_id, a.title FROM (SELECT alert_id FROM many ORDER BY alert_id LIMIT 20) m
                         LEFT JOIN l_alerts a ON a.id = m.alert_id$$);
