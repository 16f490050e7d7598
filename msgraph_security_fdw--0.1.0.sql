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

CREATE FUNCTION msgraph_request_stats()
RETURNS TABLE(requests bigint, pages bigint, bytes bigint,
              retries bigint, throttled_ms bigint, tokens_fetched bigint)
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE ROWS 1;

CREATE FUNCTION msgraph_reset_tokens()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE;
