--
-- import: IMPORT FOREIGN SCHEMA from the resource catalog
--
CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA nosuch FROM SERVER graph INTO imp;
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO imp OPTIONS (x 'y');
IMPORT FOREIGN SCHEMA security LIMIT TO (incidents, nosuch) FROM SERVER graph INTO imp;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'imp' ORDER BY 1;
IMPORT FOREIGN SCHEMA identity_protection EXCEPT (risky_users) FROM SERVER graph INTO imp;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'imp' ORDER BY 1;
DROP SCHEMA imp CASCADE;

-- the columns of each imported table: id first, properties in catalog
-- order, derived columns, raw last; no NOT NULL
\d+ graph.alerts
\d+ graph.incidents
\d+ graph.secure_scores
\d+ graph.risk_detections
\d+ graph.risky_users
\d+ graph.service_principal_risk_detections
SELECT c.relname, count(*) AS columns, bool_or(a.attnotnull) AS any_not_null
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'graph'::regnamespace AND a.attnum > 0
 GROUP BY 1 ORDER BY 1;
-- importing sends nothing to Graph
SELECT emu_reset();
CREATE SCHEMA imp2;
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO imp2;
SELECT count(*) AS requests FROM emu_requests();
DROP SCHEMA imp2 CASCADE;
