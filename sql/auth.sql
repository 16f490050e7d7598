--
-- auth: client secret tokens, the per-backend cache, refresh on 401,
-- pre-acquired tokens, refused credentials
--
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret,
       current_setting('msgraph_test.wrong_secret') AS wrong \gset
SELECT msgraph_reset_tokens();
SELECT emu_reset();
SELECT count(id) FROM graph.risky_users;
SELECT count(id) FROM graph.incidents;
SELECT count(id) FROM graph.secure_scores;
-- three queries, one token
SELECT count(*) AS token_requests FROM emu_requests() r WHERE r->>'kind' = 'token';
SELECT r->'form'->>'client_id' AS client_id, r->'form'->>'scope' AS scope,
       r->'form'->>'grant_type' AS grant_type, r->>'status' AS status
  FROM emu_requests() r WHERE r->>'kind' = 'token';
SELECT tokens_fetched > 0 AS counted FROM msgraph_request_stats();

-- Graph answers 401 mid-session: exactly one refresh, and the query succeeds
SELECT emu_reset();
SELECT NULL::void FROM emu('POST', 'revoke-tokens');
SELECT count(id) FROM graph.risky_users;
SELECT r->>'kind' AS kind, r->>'status' AS status
  FROM emu_requests() r ORDER BY (r->>'seq')::int LIMIT 3;
SELECT count(*) FILTER (WHERE r->>'kind' = 'token') AS token_requests,
       count(*) FILTER (WHERE r->>'status' = '401') AS unauthorized
  FROM emu_requests() r;

-- ALTER USER MAPPING takes effect on the next query (tokens are forgotten)
CREATE SERVER graph_auth FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_auth
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'wrong');
CREATE FOREIGN TABLE scores (id text, current_score double precision)
  SERVER graph_auth OPTIONS (resource 'security/secureScores');
-- a wrong secret: 28000 naming the identity platform's code, never the secret
SELECT * FROM try('SELECT count(id) FROM scores');
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_auth OPTIONS (SET client_secret :'secret');
SELECT count(id) FROM scores;
-- an unknown client, an unknown tenant
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_auth
  OPTIONS (SET client_id 'aaaaaaaa-bbbb-4ccc-8ddd-00000000ffff');
SELECT * FROM try('SELECT count(id) FROM scores');
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_auth
  OPTIONS (SET client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001');
ALTER SERVER graph_auth OPTIONS (SET tenant_id 'nosuch.onmicrosoft.com');
SELECT * FROM try('SELECT count(id) FROM scores');
ALTER SERVER graph_auth OPTIONS (DROP tenant_id);
SELECT * FROM try('SELECT count(id) FROM scores');
ALTER SERVER graph_auth OPTIONS (ADD tenant_id 'contoso.onmicrosoft.com');
SELECT count(id) FROM scores;

-- a pre-acquired bearer token is used as it is
SELECT e->>'access_token' AS token FROM emu('POST', 'token') e \gset
DROP USER MAPPING FOR CURRENT_USER SERVER graph_auth;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_auth OPTIONS (access_token :'token');
SELECT emu_reset();
SELECT count(id) FROM scores;
SELECT count(*) FILTER (WHERE r->>'kind' = 'token') AS token_requests,
       count(*) FILTER (WHERE r->>'kind' = 'graph') AS graph_requests
  FROM emu_requests() r;
-- once revoked it cannot be refreshed: 42501
SELECT NULL::void FROM emu('POST', 'revoke-tokens');
SELECT * FROM try('SELECT count(id) FROM scores');

-- a mapping without a credential is refused when it is made
DROP USER MAPPING FOR CURRENT_USER SERVER graph_auth;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_auth;
-- no user mapping at all: the error names the server and shows how to make one
SELECT * FROM try('SELECT count(id) FROM scores');

-- the mapping's options are visible only as PostgreSQL allows
CREATE ROLE msgraph_nobody;
GRANT USAGE ON FOREIGN SERVER graph_auth TO msgraph_nobody;
CREATE USER MAPPING FOR msgraph_nobody SERVER graph_auth OPTIONS (access_token 'tok-123');
SET ROLE msgraph_nobody;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'graph_auth';
RESET ROLE;
DROP USER MAPPING FOR msgraph_nobody SERVER graph_auth;
REVOKE USAGE ON FOREIGN SERVER graph_auth FROM msgraph_nobody;
DROP ROLE msgraph_nobody;
DROP SERVER graph_auth CASCADE;
