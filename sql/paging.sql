--
-- paging: $top from the page size, nextLinks followed byte for byte until a
-- page has none, empty pages, the snapshot bound
--
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret \gset
SET timezone = 'UTC';
SELECT emu_reset();
SELECT count(id) FROM graph.incidents;
-- one request per page of 8, each later one exactly the previous nextLink
SELECT r->>'seq' IS NOT NULL AS logged, r->>'path' AS path, r->'params'->>'$top' AS top,
       r->'params' ? '$skip' AS has_skip, (r->>'rows')::int AS rows
  FROM emu_requests() r WHERE r->>'kind' = 'graph' ORDER BY (r->>'seq')::int;

-- headers every Graph request carries
SELECT DISTINCT r->'headers'->>'prefer' AS prefer,
       r->'headers'->>'accept-encoding' AS accept_encoding,
       r->'headers'->>'user-agent' AS user_agent,
       r->>'authorization' AS authorization,
       r->'headers'->>'client-request-id' ~ '^[0-9a-f-]{36}$' AS request_id_is_guid
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT count(DISTINCT r->'headers'->>'client-request-id') = count(*) AS fresh_request_ids
  FROM emu_requests() r WHERE r->>'kind' = 'graph';

-- the snapshot bound: alerts and incidents pin createdDateTime le <scan start>
SELECT DISTINCT r->'params'->>'$filter' ~ '^createdDateTime le \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$' AS snapshot
  FROM emu_requests() r WHERE r->>'kind' = 'graph';

-- page size: clamped to each endpoint's maximum, the table's overriding
CREATE SERVER graph_big FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '100000');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_big
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA big;
IMPORT FOREIGN SCHEMA security FROM SERVER graph_big INTO big;
IMPORT FOREIGN SCHEMA identity_protection FROM SERVER graph_big INTO big;
SELECT emu_reset();
SELECT (SELECT count(id) FROM big.alerts) AS alerts,
       (SELECT count(id) FROM big.incidents) AS incidents,
       (SELECT count(id) FROM big.risk_detections) AS risk_detections,
       (SELECT count(id) FROM big.risky_users) AS risky_users,
       (SELECT count(id) FROM big.service_principal_risk_detections) AS sp,
       (SELECT count(id) FROM big.secure_scores) AS scores;
SELECT r->>'path' AS path, r->'params'->>'$top' AS top, count(*) AS requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1, 2 ORDER BY 1;
ALTER FOREIGN TABLE big.alerts OPTIONS (ADD page_size '120');
SELECT emu_reset();
SELECT count(id) FROM big.alerts;
SELECT r->'params'->>'$top' AS top, count(*) AS requests
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1;

-- empty pages with a nextLink are followed
SELECT emu_reset();
SELECT emu_config('{"empty_pages": true}');
SELECT count(id) FROM graph.risky_users;
SELECT count(*) FILTER (WHERE (r->>'rows')::int = 0) > 0 AS saw_empty_pages
  FROM emu_requests() r WHERE r->>'kind' = 'graph';
SELECT emu_reset();

-- LIMIT stops paging: no more pages than the rows need (two pages of eight),
-- and the one fetched ahead while the rows of the second are returned (a
-- LIMIT of more than a page is no $top hint, so the scan pages ahead)
SELECT count(*) FROM (SELECT id FROM graph.alerts LIMIT 10) s;
SELECT count(*) BETWEEN 2 AND 3 AS requests_needed_and_one_ahead
  FROM emu_requests() r WHERE r->>'kind' = 'graph';

DROP SCHEMA big CASCADE;
DROP SERVER graph_big CASCADE;
