--
-- writes_join: UPDATE ... FROM sends one PATCH per target row, however
-- many rows of the join match it, as PostgreSQL updates a row once (with
-- the values of the first match); msgraph_security_fdw.max_update_rows and
-- dry_run count target rows, not join rows.  Results are checked against
-- the same UPDATE of a local copy of the alerts, and every PATCH in the
-- emulator's request log.  The emulator's data is restored at the end.
--
SET timezone = 'UTC';
SELECT NULL::void FROM emu('POST', 'restore');

-- the Graph PATCHes since the last emu_reset(): request-target and body
CREATE FUNCTION patches(OUT target text, OUT body jsonb, OUT status int)
RETURNS SETOF record LANGUAGE sql AS $$
  SELECT r->>'target', r->'body', (r->>'status')::int
    FROM emu_requests() r WHERE r->>'kind' = 'graph' AND r->>'method' = 'PATCH'
   ORDER BY (r->>'seq')::int
$$;

-- a local copy of the alerts, and an asset inventory in which a device has
-- two owners and some alerts name two devices of it: alerts that match
-- two rows of the inventory
CREATE TEMP TABLE local_alerts AS
SELECT d->>'id' AS id, d->>'status' AS status, d->>'assignedTo' AS assigned_to,
       ARRAY(SELECT e->>'deviceDnsName' FROM jsonb_array_elements(d->'evidence') e
              WHERE e->>'@odata.type' = '#microsoft.graph.security.deviceEvidence'
                AND e->>'deviceDnsName' IS NOT NULL) AS evidence_device_names
  FROM emu_data('security/alerts_v2') d;
CREATE TEMP TABLE assets (device_name text, owner text);
INSERT INTO assets VALUES
  ('srv-sql-02.contoso.local', 'dba-team@contoso.com'),
  ('srv-sql-02.contoso.local', 'dba-oncall@contoso.com'),
  ('jump-host.contoso.local', 'infra@contoso.com'),
  ('ws-108.contoso.local', 'desk@contoso.com');
SELECT count(*) AS join_rows, count(DISTINCT a.id) AS alerts,
       count(DISTINCT a.id) FILTER (WHERE m.n > 1) AS alerts_matching_twice_or_more
  FROM local_alerts a
  JOIN assets o ON o.device_name = ANY (a.evidence_device_names)
  JOIN LATERAL (SELECT count(*) AS n FROM assets o2
                 WHERE o2.device_name = ANY (a.evidence_device_names)) m ON true;
SELECT count(DISTINCT a.id) AS alerts, count(DISTINCT a.id) - 1 AS alerts_minus_one
  FROM local_alerts a JOIN assets o ON o.device_name = ANY (a.evidence_device_names) \gset

--
-- the owner of a device an alert names takes it: one PATCH per alert
--
CREATE TEMP TABLE returned (id text, assigned_to text, owner text);
SELECT emu_reset();
WITH u AS (
  UPDATE graph.alerts a SET assigned_to = o.owner
    FROM assets o
   WHERE o.device_name = ANY (a.evidence_device_names)
  RETURNING a.id, a.assigned_to, o.owner)
INSERT INTO returned SELECT * FROM u;
-- one PATCH per alert and none twice; each carries the owner RETURNING
-- reports, whom Graph answered with
SELECT count(*) AS patches, count(DISTINCT target) AS alerts_patched,
       count(*) FILTER (WHERE status = 200) AS accepted
  FROM patches();
SELECT count(*) AS patches_as_returned
  FROM patches() p JOIN returned r
    ON p.target = '/v1.0/security/alerts_v2/' || r.id
   AND p.body = jsonb_build_object('assignedTo', r.owner)
 WHERE r.assigned_to = r.owner;
-- the alerts are those PostgreSQL's UPDATE of the local copy changes, one
-- RETURNING row each, and each went to an owner of one of its devices
CREATE TEMP TABLE returned_local (id text);
WITH u AS (
  UPDATE local_alerts a SET assigned_to = o.owner
    FROM assets o
   WHERE o.device_name = ANY (a.evidence_device_names)
  RETURNING a.id)
INSERT INTO returned_local SELECT * FROM u;
SELECT same('SELECT id FROM returned', 'SELECT id FROM returned_local') AS same_alerts;
SELECT count(*) AS not_an_owner_of_its_devices
  FROM returned r
 WHERE NOT EXISTS (SELECT 1 FROM local_alerts a JOIN assets o
                       ON o.device_name = ANY (a.evidence_device_names)
                    WHERE a.id = r.id AND o.owner = r.owner);
-- and Graph holds what was sent, for each alert
SELECT same($q$SELECT id, assigned_to FROM graph.alerts
                WHERE id IN (SELECT id FROM returned)$q$,
            'SELECT id, assigned_to FROM returned') AS graph_holds_it;

-- a join on the id itself, the same alert listed twice: one PATCH for it
SELECT id AS one FROM returned ORDER BY id LIMIT 1 \gset
SELECT id AS two FROM returned ORDER BY id DESC LIMIT 1 \gset
SELECT emu_reset();
WITH u AS (
  UPDATE graph.alerts a SET status = 'inProgress'
    FROM (VALUES (:'one'), (:'one'), (:'two')) v(id)
   WHERE a.id = v.id
  RETURNING a.id, a.status)
SELECT id = :'one' AS is_one, status FROM u ORDER BY 1;
SELECT target = '/v1.0/security/alerts_v2/' || :'one' AS is_one,
       target = '/v1.0/security/alerts_v2/' || :'two' AS is_two, body, status
  FROM patches() ORDER BY 1, 2;

--
-- max_update_rows counts target rows: a cap of exactly the number of
-- alerts lets the UPDATE through although the join has more rows; one
-- less is an ERROR before any PATCH
--
SET msgraph_security_fdw.max_update_rows = :alerts;
SELECT emu_reset();
WITH u AS (
  UPDATE graph.alerts a SET determination = 'securityTesting'
    FROM assets o
   WHERE o.device_name = ANY (a.evidence_device_names)
  RETURNING a.id)
SELECT count(*) AS updated, count(*) = :alerts AS one_per_alert FROM u;
SELECT count(*) AS patches, count(DISTINCT target) AS alerts_patched FROM patches();
SET msgraph_security_fdw.max_update_rows = :alerts_minus_one;
SELECT emu_reset();
SELECT code, regexp_replace(message, '\d+ rows', 'N rows') AS message,
       regexp_replace(detail, 'is \d+', 'is N') AS detail
  FROM try($q$UPDATE graph.alerts a SET determination = 'other'
                FROM assets o
               WHERE o.device_name = ANY (a.evidence_device_names)$q$);
SELECT count(*) AS patches FROM patches();
RESET msgraph_security_fdw.max_update_rows;

--
-- dry_run: one NOTICE for an alert that two rows of the inventory match
--
SELECT a.id AS twice FROM local_alerts a
 WHERE 'srv-sql-02.contoso.local' = ANY (a.evidence_device_names)
 ORDER BY a.id LIMIT 1 \gset
SET msgraph_security_fdw.dry_run = on;
SELECT emu_reset();
UPDATE graph.alerts a SET status = 'resolved'
  FROM assets o
 WHERE o.device_name = ANY (a.evidence_device_names) AND a.id = :'twice'
RETURNING a.id;
RESET msgraph_security_fdw.dry_run;
SELECT count(*) AS patches FROM patches();

--
-- an uncorrelated subquery in the WHERE clause or a SET value (an initplan
-- of the UPDATE): the rows are found and counted with its value too
--
SELECT NULL::void FROM emu('POST', 'restore');
SELECT d->>'incidentId' AS inc FROM emu_data('security/alerts_v2') d
 WHERE d->>'id' = :'one' \gset
SELECT emu_reset();
UPDATE graph.incidents SET custom_tags = array_append(custom_tags, 'triaged')
 WHERE id = (SELECT incident_id FROM graph.alerts WHERE id = :'one')
RETURNING id = :'inc' AS its_incident, custom_tags[cardinality(custom_tags)] AS last_tag;
-- the subquery's GET and the incident's GET, once to count, once to send
SELECT r->>'method' AS method, r->>'target' LIKE '%/incidents/%' AS incident, count(*)
  FROM emu_requests() r WHERE r->>'kind' = 'graph' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT emu_reset();
WITH u AS (
  UPDATE graph.alerts
     SET assigned_to = (SELECT 'soc-' || count(*) FROM graph.incidents WHERE status = 'redirected')
   WHERE status = 'unknown'
  RETURNING id, assigned_to)
SELECT count(*) AS updated,
       count(*) = (SELECT count(*) FROM local_alerts WHERE status = 'unknown') AS all_unknown,
       bool_and(assigned_to = 'soc-' || (SELECT count(*) FROM emu_data('security/incidents') d
                                          WHERE d->>'status' = 'redirected')) AS the_count
  FROM u;
SELECT count(*) AS patches FROM patches();

-- the emulator's data back as generated, for the suites that follow
SELECT e->>'ok' AS restored FROM emu('POST', 'restore') e;
DROP FUNCTION patches();
