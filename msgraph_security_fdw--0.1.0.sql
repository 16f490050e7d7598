/* msgraph_security_fdw--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION msgraph_security_fdw" to load this file. \quit

CREATE FUNCTION msgraph_security_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION msgraph_security_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER msgraph_security_fdw
  HANDLER msgraph_security_fdw_handler
  VALIDATOR msgraph_security_fdw_validator;

-- Columns of foreign tables over the resources the catalog knows must read
-- a property it lists: checked when a table is created, altered or
-- imported (src/option.c), not at the first query as a 400 from Graph.
CREATE FUNCTION msgraph_check_foreign_tables()
RETURNS event_trigger
AS 'MODULE_PATHNAME'
LANGUAGE C;

CREATE EVENT TRIGGER msgraph_check_foreign_tables ON ddl_command_end
  WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE',
               'IMPORT FOREIGN SCHEMA')
  EXECUTE FUNCTION msgraph_check_foreign_tables();

CREATE FUNCTION msgraph_request_stats()
RETURNS TABLE(requests bigint, pages bigint, bytes bigint,
              retries bigint, throttled_ms bigint, tokens_fetched bigint)
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE ROWS 1;

CREATE FUNCTION msgraph_reset_tokens()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;

-- Triage and hunting (src/functions.c).  Each acts with the calling role's
-- user mapping on the named server; the writes are logged at LOG level and
-- only shown under msgraph_security_fdw.dry_run.

CREATE FUNCTION msgraph_add_comment(server name, resource text, id text, comment text)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION msgraph_add_comment(name, text, text, text) IS
  'adds a comment to an alert or incident (resource ''alerts'' or ''incidents''); returns the comment list Graph sends back';

CREATE FUNCTION msgraph_dismiss_risky_users(server name, user_ids text[])
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION msgraph_dismiss_risky_users(name, text[]) IS
  'dismisses the risk of the given users (identityProtection/riskyUsers/dismiss)';

CREATE FUNCTION msgraph_confirm_compromised(server name, user_ids text[])
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION msgraph_confirm_compromised(name, text[]) IS
  'confirms the given users compromised (identityProtection/riskyUsers/confirmCompromised)';

CREATE FUNCTION msgraph_hunting_query(server name, query text, timespan text DEFAULT NULL)
RETURNS SETOF jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 1000;

COMMENT ON FUNCTION msgraph_hunting_query(name, text, text) IS
  'runs an advanced-hunting KQL query (security/runHuntingQuery); one jsonb per result row';
