--
-- setup: the extension, a server and user mapping on the Graph emulator,
-- and helpers that read the emulator's request log and data.
--
-- The emulator's address comes from the setting msgraph_test.base_url and
-- the app's secret from msgraph_test.client_secret, both written into the
-- temporary instance's configuration by tests/runner/run_regress.sh, so that no
-- secret ever appears in a test file or its output.
--
CREATE EXTENSION msgraph_security_fdw;
SELECT current_setting('msgraph_test.base_url') AS base \gset
SELECT current_setting('msgraph_test.client_secret') AS secret \gset

-- emu(method, path[, body]): one control request to the emulator; one
-- jsonb per line of its answer (the control API answers NDJSON or JSON).
CREATE FUNCTION emu(method text, path text, body text DEFAULT NULL)
RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
DECLARE
  cmd text;
BEGIN
  -- (--noproxy: the server's environment names a proxy, see run_regress.sh)
  cmd := format('curl -sS --noproxy ''*'' --fail-with-body -X %s %s',
                method,
                quote_shell(current_setting('msgraph_test.base_url') || '/_emulator/' || path));
  IF body IS NOT NULL THEN
    cmd := cmd || ' -H ''Content-Type: application/json'' --data-binary ' || quote_shell(body);
  END IF;
  IF to_regclass('pg_temp.emu_out') IS NULL THEN
    CREATE TEMP TABLE emu_out (line text);
  END IF;
  TRUNCATE emu_out;
  -- read raw lines: CSV with quote and delimiter characters that never occur
  EXECUTE format('COPY emu_out FROM PROGRAM %L WITH (FORMAT csv, QUOTE E''\x01'', DELIMITER E''\x02'')', cmd);
  RETURN QUERY SELECT line::jsonb FROM emu_out WHERE line <> '';
END $$;

CREATE FUNCTION quote_shell(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '''' || replace(s, '''', '''\''''') || ''''
$$;

-- the emulator's request log since the last emu_reset()
CREATE FUNCTION emu_requests() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT * FROM emu('GET', 'requests')
$$;
CREATE FUNCTION emu_reset() RETURNS void LANGUAGE sql AS $$
  SELECT NULL::void FROM emu('POST', 'reset')
$$;
CREATE FUNCTION emu_fault(spec jsonb) RETURNS void LANGUAGE sql AS $$
  SELECT NULL::void FROM emu('POST', 'faults', spec::text)
$$;
CREATE FUNCTION emu_config(spec jsonb) RETURNS void LANGUAGE sql AS $$
  SELECT NULL::void FROM emu('POST', 'config', spec::text)
$$;
-- what the emulator holds for a collection, entity by entity
CREATE FUNCTION emu_data(path text) RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT * FROM emu('GET', 'data/v1.0/' || path)
$$;

-- try(query): run a statement and show how it failed, if it did: SQLSTATE,
-- message, DETAIL and HINT, with GUIDs (request ids) masked.
CREATE FUNCTION try(query text, OUT code text, OUT message text,
                    OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  code := '00000';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  message := regexp_replace(message, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'GUID', 'g');
  detail := regexp_replace(detail, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'GUID', 'g');
  detail := regexp_replace(detail, 'http://127\.0\.0\.1:\d+', 'http://EMULATOR', 'g');
  detail := regexp_replace(detail, 'http://127\.0\.0\.2:\d+', 'http://OTHER-HOST', 'g');
  detail := regexp_replace(detail, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z', 'TIMESTAMP', 'g');
END $$;

-- same(foreign query, local query): do both give the same rows?
CREATE FUNCTION same(fq text, lq text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE n1 bigint; n2 bigint; d bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (%s) s', fq) INTO n1;
  EXECUTE format('SELECT count(*) FROM (%s) s', lq) INTO n2;
  EXECUTE format('SELECT count(*) FROM (((%s) EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL (%s))) s', fq, lq, lq, fq) INTO d;
  RETURN format('%s rows, %s differ', n1, CASE WHEN n1 = n2 THEN d ELSE -1 END);
END $$;

-- explain_filter: EXPLAIN output with the parts that vary from run to run
-- (timestamps of the snapshot bound, byte counts, ports) masked.
CREATE FUNCTION explain_filter(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  ln text;
BEGIN
  FOR ln IN EXECUTE query LOOP
    ln := regexp_replace(ln, 'http://127\.0\.0\.1:\d+', 'http://EMULATOR', 'g');
    ln := regexp_replace(ln, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z', 'TIMESTAMP', 'g');
    ln := regexp_replace(ln, 'Graph Bytes: \d+', 'Graph Bytes: N');
    RETURN NEXT ln;
  END LOOP;
END $$;

-- compare_with_emulator(table, path): SELECT * of the foreign table against
-- the emulator's records, column by column, each JSON value converted to
-- the column's type independently of the extension (timestamps as
-- PostgreSQL rounds them).  Returns the row counts on both sides and the
-- columns that differ (empty when none).
CREATE FUNCTION compare_with_emulator(ft regclass, path text,
    OUT foreign_rows bigint, OUT emulator_rows bigint,
    OUT columns_compared int, OUT mismatched_columns text)
LANGUAGE plpgsql AS $$
DECLARE
  col record;
  prop text;
  expr text;
  bad bigint;
BEGIN
  IF to_regclass('pg_temp.cmp_foreign') IS NOT NULL THEN
    DROP TABLE cmp_foreign, cmp_emulator;
  END IF;
  EXECUTE format('CREATE TEMP TABLE cmp_foreign AS SELECT * FROM %s', ft);
  CREATE TEMP TABLE cmp_emulator AS SELECT d AS doc FROM emu_data(path) d;
  SELECT count(*) INTO foreign_rows FROM cmp_foreign;
  SELECT count(*) INTO emulator_rows FROM cmp_emulator;
  columns_compared := 0;
  mismatched_columns := '';
  FOR col IN
    SELECT a.attname, a.atttypid::regtype AS typ,
           (SELECT substr(o, 10) FROM unnest(a.attfdwoptions) o WHERE o LIKE 'property=%') AS property
      FROM pg_attribute a
     WHERE a.attrelid = ft AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum
  LOOP
    prop := col.property;
    -- the default: the camelCase of the snake_case name
    IF prop IS NULL THEN
      SELECT string_agg(CASE WHEN i = 1 THEN w ELSE initcap(w) END, '' ORDER BY i)
        INTO prop FROM unnest(string_to_array(col.attname, '_')) WITH ORDINALITY AS t(w, i);
    END IF;
    expr := CASE
      -- "raw" is the entity as Graph sent it: with $expand=alerts when the
      -- incident's alerts column was read too
      WHEN prop = '$' THEN 'CASE WHEN f.raw ? ''alerts'' THEN e.doc || jsonb_build_object(''alerts'', f.raw->''alerts'') ELSE e.doc END'
      WHEN prop = 'evidenceDeviceNames' THEN
        $x$CASE WHEN jsonb_typeof(e.doc->'evidence') = 'array' THEN ARRAY(
             SELECT v->>'deviceDnsName' FROM jsonb_array_elements(e.doc->'evidence') v
              WHERE v->>'@odata.type' = '#microsoft.graph.security.deviceEvidence'
                AND v->>'deviceDnsName' IS NOT NULL) END$x$
      WHEN prop = 'evidenceUserPrincipalNames' THEN
        $x$CASE WHEN jsonb_typeof(e.doc->'evidence') = 'array' THEN ARRAY(
             SELECT v->'userAccount'->>'userPrincipalName' FROM jsonb_array_elements(e.doc->'evidence') v
              WHERE v->>'@odata.type' = '#microsoft.graph.security.userEvidence'
                AND v->'userAccount'->>'userPrincipalName' IS NOT NULL) END$x$
      WHEN prop = 'alerts' THEN NULL
      WHEN col.typ = 'jsonb'::regtype THEN format('NULLIF(e.doc->%L, ''null'')', prop)
      WHEN col.typ = 'text[]'::regtype THEN
        format('CASE WHEN jsonb_typeof(e.doc->%1$L) = ''array'' THEN ARRAY(SELECT jsonb_array_elements_text(e.doc->%1$L)) END', prop)
      ELSE format('(e.doc->>%L)::%s', prop, col.typ)
    END;
    CONTINUE WHEN expr IS NULL;
    EXECUTE format('SELECT count(*) FROM cmp_foreign f FULL JOIN cmp_emulator e ON f.id = e.doc->>''id''
                     WHERE f.%I IS DISTINCT FROM %s', col.attname, expr) INTO bad;
    columns_compared := columns_compared + 1;
    IF bad > 0 THEN
      mismatched_columns := mismatched_columns || format('%s(%s) ', col.attname, bad);
    END IF;
  END LOOP;
END $$;

-- the server and user mapping most suites use; small pages so that every
-- table spans several of them
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', page_size '8');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE SCHEMA graph;
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO graph;
IMPORT FOREIGN SCHEMA identity_protection FROM SERVER graph INTO graph;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'graph' ORDER BY 1;
