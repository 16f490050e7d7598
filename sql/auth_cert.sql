--
-- auth_cert: every kind of credential (client secret, certificate with PS256
-- and RS256, encrypted private key, key files, managed identity, bearer
-- token), the identity platform's refusals, national clouds, the token
-- cache, and who may create which mapping
--
-- The keys and certificates are made for each run by
-- tests/certs/make_test_certs.sh; app.crt and expired.crt are registered with the
-- emulator for the admin app, other.crt is not.  They reach this file only
-- through msgraph_test.* settings, so no key is ever in a test file or its
-- output, and every statement that holds one succeeds (PostgreSQL logs a
-- failing statement with its text).
--
SELECT current_setting('msgraph_test.base_url') AS base,
       current_setting('msgraph_test.client_secret') AS secret,
       current_setting('msgraph_test.wrong_secret') AS wrong,
       current_setting('msgraph_test.certificate') AS cert,
       current_setting('msgraph_test.private_key') AS key,
       current_setting('msgraph_test.private_key_encrypted') AS enc_key,
       current_setting('msgraph_test.private_key_password') AS key_password,
       current_setting('msgraph_test.other_certificate') AS other_cert,
       current_setting('msgraph_test.other_private_key') AS other_key,
       current_setting('msgraph_test.expired_certificate') AS expired_cert,
       current_setting('msgraph_test.expired_private_key') AS expired_key,
       current_setting('msgraph_test.certificate_file') AS cert_file,
       current_setting('msgraph_test.private_key_file') AS key_file,
       current_setting('msgraph_test.private_key_encrypted_file') AS enc_key_file \gset
SELECT :'base' || '/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token' AS token_url,
       :'base' || '/metadata/identity/oauth2/token' AS imds,
       replace(:'base', '127.0.0.1', 'localhost') AS alias \gset

-- try() with what varies between runs masked: certificate thumbprints (in
-- hex) and the validity dates of the certificates made for this run
CREATE FUNCTION try_auth(query text, OUT code text, OUT message text,
                         OUT detail text, OUT hint text)
LANGUAGE sql AS $$
  SELECT t.code, t.message,
         regexp_replace(regexp_replace(t.detail, '''[0-9A-F]{40,64}''', '''THUMBPRINT''', 'g'),
                        'Start=[0-9/: ]+, End=[0-9/: ]+', 'Start=..., End=...', 'g'),
         t.hint
    FROM try(query) t
$$;

-- the token requests since the last emu_reset(), oldest first
CREATE FUNCTION token_requests() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT r FROM emu_requests() r WHERE r->>'kind' IN ('token', 'managed_identity')
   ORDER BY (r->>'seq')::int
$$;

-- what a client assertion looked like, from the request log: its header
-- and claim names, and whether each claim is what Microsoft asks for
-- (doc/graph.md, "Certificate assertion")
CREATE FUNCTION assertion_shape(r jsonb, token_url text,
    OUT alg text, OUT header text, OUT claims text, OUT iss_sub_client boolean,
    OUT aud_endpoint boolean, OUT jti_guid boolean, OUT lifetime_s int,
    OUT iat_nbf_now boolean)
LANGUAGE sql AS $$
  SELECT r->'assertion'->'header'->>'alg',
         (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(r->'assertion'->'header') k),
         (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(r->'assertion'->'claims') k),
         r->'assertion'->'claims'->>'iss' = r->'form'->>'client_id'
           AND r->'assertion'->'claims'->>'sub' = r->'form'->>'client_id',
         r->'assertion'->'claims'->>'aud' = token_url,
         r->'assertion'->'claims'->>'jti' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$',
         ((r->'assertion'->'claims'->>'exp')::bigint - (r->'assertion'->'claims'->>'nbf')::bigint)::int,
         (r->'assertion'->'claims'->>'iat') = (r->'assertion'->'claims'->>'nbf')
           AND abs((r->'assertion'->'claims'->>'nbf')::bigint - extract(epoch FROM now())) < 120
$$;

SELECT msgraph_reset_tokens();
CREATE SERVER graph_cert FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE FOREIGN TABLE cert_scores (id text, current_score double precision)
  SERVER graph_cert OPTIONS (resource 'security/secureScores');

--
-- a client secret
--
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT r->'form'->>'client_id' AS client_id, r->>'scope' AS scope,
       r->'form' ? 'client_assertion_type' AS assertion, r->>'status' AS status
  FROM token_requests() r;

--
-- a certificate: PS256 with x5t#S256 by default
--
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (DROP client_secret, ADD certificate :'cert', ADD private_key :'key');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT r->'form'->>'client_assertion_type' AS assertion_type, r->>'scope' AS scope,
       r->>'status' AS status
  FROM token_requests() r;
SELECT s.* FROM token_requests() r, assertion_shape(r, :'token_url') s;
-- the thumbprint is the base64url SHA-256 of the certificate's DER bytes
SELECT r->'assertion'->'header'->>'x5t#S256' =
       rtrim(translate(encode(sha256(decode(
         regexp_replace(:'cert', '-----[A-Z ]+-----|\s', '', 'g'), 'base64')), 'base64'),
         '+/', '-_'), '=') AS thumbprint_matches
  FROM token_requests() r;
-- every token request signs a fresh assertion (the emulator refuses a jti
-- it has seen)
SELECT msgraph_reset_tokens();
SELECT count(id) FROM cert_scores;
SELECT count(DISTINCT r->'assertion'->'claims'->>'jti') AS distinct_jti,
       count(*) FILTER (WHERE r->>'status' = '200') AS accepted
  FROM token_requests() r;

--
-- RS256 with x5t, under jwt_algorithm 'RS256'
--
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (ADD jwt_algorithm 'RS256');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT s.alg, s.header, s.claims, r->>'status' AS status
  FROM token_requests() r, assertion_shape(r, :'token_url') s;
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (SET jwt_algorithm 'PS256');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT s.alg, s.header, r->>'status' AS status
  FROM token_requests() r, assertion_shape(r, :'token_url') s;

--
-- an encrypted private key and its pass phrase
--
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (DROP jwt_algorithm, SET private_key :'enc_key', ADD private_key_password :'key_password');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT s.alg, r->>'status' AS status FROM token_requests() r, assertion_shape(r, :'token_url') s;
-- without the pass phrase, or with a wrong one, the key cannot be read
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (DROP private_key_password);
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (SET private_key_password 'not-the-pass-phrase');

--
-- certificate and key files
--
DROP USER MAPPING FOR CURRENT_USER SERVER graph_cert;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001',
           certificate_file :'cert_file', private_key_file :'key_file');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT s.alg, s.iss_sub_client, r->>'status' AS status
  FROM token_requests() r, assertion_shape(r, :'token_url') s;
-- an encrypted key file with its pass phrase
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (SET private_key_file :'enc_key_file', ADD private_key_password :'key_password');
SELECT count(id) FROM cert_scores;
-- files are read when a token is needed: a missing one is an error then
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (DROP private_key_password, SET private_key_file '/nonexistent/msgraph-test.key');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
-- a certificate file without a certificate in it
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (SET private_key_file :'key_file', SET certificate_file :'key_file');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');

--
-- what the identity platform refuses: 28000 naming its code, with a HINT
--
-- the registered certificate with another key: the signature does not verify
DROP USER MAPPING FOR CURRENT_USER SERVER graph_cert;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001',
           certificate :'cert', private_key :'other_key');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
-- a certificate that is not registered for the application
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (SET certificate :'other_cert');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
-- a registered certificate that has expired
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (SET certificate :'expired_cert', SET private_key :'expired_key');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
-- the right certificate in the wrong tenant
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (SET certificate :'cert', SET private_key :'key');
ALTER SERVER graph_cert OPTIONS (SET tenant_id 'fabrikam.onmicrosoft.com');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
-- the wrong audience: login_url names the identity platform by an alias
-- (localhost), so the assertion is addressed to the alias, not to the
-- platform's own login host
ALTER SERVER graph_cert OPTIONS (SET tenant_id '11111111-2222-3333-4444-555555555555',
                                 SET login_url :'alias');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
ALTER SERVER graph_cert OPTIONS (SET login_url :'base');
SELECT count(id) FROM cert_scores;
-- a certificate registered for another application
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (SET client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000002');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');

--
-- ALTER USER MAPPING to a new secret takes effect on the next query of the
-- same session, in both directions
--
DROP USER MAPPING FOR CURRENT_USER SERVER graph_cert;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_cert
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
SELECT count(id) FROM cert_scores;
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (SET client_secret :'wrong');
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (SET client_secret :'secret');
SELECT count(id) FROM cert_scores;

--
-- the token cache
--
-- the token of the query above serves the next ones
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT count(id) FROM cert_scores;
SELECT count(*) AS token_requests FROM token_requests();
-- any ALTER SERVER forgets the tokens, as does msgraph_reset_tokens()
ALTER SERVER graph_cert OPTIONS (ADD timeout_ms '20000');
SELECT count(id) FROM cert_scores;
SELECT count(*) AS token_requests FROM token_requests();
SELECT msgraph_reset_tokens();
SELECT count(id) FROM cert_scores;
SELECT count(*) AS token_requests FROM token_requests();
-- refreshed ahead of expiry: a 2-second token is replaced after 1 second,
-- before Graph would refuse it
SELECT msgraph_reset_tokens();
SELECT emu_reset();
SELECT emu_config('{"token_lifetime": 2}');
SELECT count(id) FROM cert_scores;
SELECT pg_sleep(1.2);
SELECT count(id) FROM cert_scores;
SELECT count(*) FILTER (WHERE r->>'kind' = 'token') AS token_requests,
       count(*) FILTER (WHERE r->>'status' = '401') AS unauthorized
  FROM emu_requests() r;
SELECT emu_reset();
SELECT msgraph_reset_tokens();
-- two roles whose mappings name the same client share no token: the
-- second role's wrong secret is refused although a token for the client is
-- cached in this backend
CREATE ROLE msgraph_other;
GRANT USAGE ON FOREIGN SERVER graph_cert TO msgraph_other;
GRANT SELECT ON cert_scores TO msgraph_other;
CREATE USER MAPPING FOR msgraph_other SERVER graph_cert
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'wrong');
SELECT count(id) FROM cert_scores;
SET ROLE msgraph_other;
SELECT * FROM try_auth('SELECT count(id) FROM cert_scores');
RESET ROLE;
SELECT count(id) FROM cert_scores;
DROP USER MAPPING FOR msgraph_other SERVER graph_cert;
REVOKE SELECT ON cert_scores FROM msgraph_other;
REVOKE USAGE ON FOREIGN SERVER graph_cert FROM msgraph_other;
DROP ROLE msgraph_other;

--
-- a pre-acquired bearer token
--
SELECT e->>'access_token' AS token FROM emu('POST', 'token') e \gset
DROP USER MAPPING FOR CURRENT_USER SERVER graph_cert;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_cert OPTIONS (access_token :'token');
SELECT emu_reset();
SELECT count(id) FROM cert_scores;
SELECT count(*) AS token_requests FROM token_requests();

--
-- managed identity: the emulator is the instance metadata endpoint
--
CREATE SERVER graph_mi FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (graph_url :'base', identity_endpoint :'imds');
CREATE FOREIGN TABLE mi_scores (id text, current_score double precision)
  SERVER graph_mi OPTIONS (resource 'security/secureScores');
CREATE FOREIGN TABLE mi_incidents (id text) SERVER graph_mi
  OPTIONS (resource 'security/incidents');
-- system-assigned
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_mi OPTIONS (managed_identity 'true');
SELECT emu_reset();
SELECT count(id) FROM mi_scores;
SELECT count(id) FROM mi_incidents;
SELECT r->>'kind' AS kind, r->>'method' AS method, r->'headers'->>'metadata' AS metadata,
       r->'params'->>'api-version' AS api_version, r->'params'->>'resource' AS resource,
       r->'params'->>'client_id' AS client_id, r->>'scope' AS scope, r->>'status' AS status
  FROM token_requests() r;
-- user-assigned, by client_id: this identity may read secure scores but
-- not incidents
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_mi
  OPTIONS (ADD client_id 'aaaaaaaa-bbbb-4ccc-8ddd-0000000000a1');
SELECT emu_reset();
SELECT count(id) FROM mi_scores;
SELECT * FROM try_auth('SELECT count(id) FROM mi_incidents');
SELECT r->'params'->>'client_id' AS client_id, r->>'status' AS status FROM token_requests() r;
-- an identity the host does not have
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_mi
  OPTIONS (SET client_id 'aaaaaaaa-bbbb-4ccc-8ddd-0000000000ff');
SELECT * FROM try_auth('SELECT count(id) FROM mi_scores');
-- no identity endpoint answers
ALTER SERVER graph_mi OPTIONS (SET identity_endpoint 'http://127.0.0.1:9/metadata/identity/oauth2/token');
SELECT * FROM try_auth('SELECT count(id) FROM mi_scores');
ALTER SERVER graph_mi OPTIONS (SET identity_endpoint :'imds');
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_mi OPTIONS (DROP client_id);
SELECT count(id) FROM mi_scores;

--
-- national clouds: cloud picks the token scope (and the managed identity's
-- resource) even when graph_url and login_url point elsewhere
--
CREATE SERVER graph_gov FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (cloud 'usgov', tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base', identity_endpoint :'imds');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_gov
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE gov_scores (id text) SERVER graph_gov
  OPTIONS (resource 'security/secureScores');
-- one client in two clouds: two tokens, one per scope
SELECT msgraph_reset_tokens();
SELECT emu_reset();
SELECT count(id) FROM gov_scores;
SELECT count(id) FROM graph.secure_scores;
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_gov
  OPTIONS (DROP client_id, DROP client_secret, ADD managed_identity 'true');
SELECT count(id) FROM gov_scores;
SELECT r->>'kind' AS kind, r->>'scope' AS scope, r->'params'->>'resource' AS resource,
       r->>'status' AS status
  FROM token_requests() r;
-- without overrides the cloud's own hosts, and EXPLAIN sends nothing
CREATE SERVER gov_plain FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (cloud 'usgov', tenant_id 'contoso.onmicrosoft.us');
CREATE SERVER dod_plain FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (cloud 'dod', tenant_id 'contoso.onmicrosoft.us');
CREATE SERVER china_plain FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (cloud 'china', tenant_id 'contoso.partner.onmschina.cn');
CREATE USER MAPPING FOR CURRENT_USER SERVER gov_plain
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret :'secret');
CREATE FOREIGN TABLE gov_plain_alerts (id text, severity text) SERVER gov_plain
  OPTIONS (resource 'security/alerts_v2');
CREATE FOREIGN TABLE dod_plain_alerts (id text, severity text) SERVER dod_plain
  OPTIONS (resource 'security/alerts_v2');
CREATE FOREIGN TABLE china_plain_scores (id text) SERVER china_plain
  OPTIONS (resource 'security/secureScores');
SELECT emu_reset();
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM gov_plain_alerts WHERE severity = ''high''');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM dod_plain_alerts');
SELECT explain_filter('EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM china_plain_scores');
SELECT count(*) AS requests_sent FROM emu_requests();
DROP SERVER gov_plain, dod_plain, china_plain CASCADE;

--
-- option validation
--
CREATE SERVER graph_v FOREIGN DATA WRAPPER msgraph_security_fdw;
-- identity_endpoint: loopback or the instance metadata address only
ALTER SERVER graph_v OPTIONS (ADD identity_endpoint 'http://10.0.0.1/metadata/identity/oauth2/token');
ALTER SERVER graph_v OPTIONS (ADD identity_endpoint 'https://login.microsoftonline.com/metadata/identity/oauth2/token');
ALTER SERVER graph_v OPTIONS (ADD identity_endpoint 'http://169.254.169.254.example.com/metadata/identity/oauth2/token');
ALTER SERVER graph_v OPTIONS (ADD identity_endpoint 'http://127.0.0.1:8080/metadata/identity/oauth2/token?api-version=1');
ALTER SERVER graph_v OPTIONS (ADD identity_endpoint 'ftp://127.0.0.1/metadata');
ALTER SERVER graph_v OPTIONS (ADD identity_endpoint 'http://169.254.169.254/metadata/identity/oauth2/token');
ALTER SERVER graph_v OPTIONS (SET identity_endpoint 'http://localhost:50342/metadata/identity/oauth2/token');
-- exactly one kind of credential
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', client_secret 'x1', certificate :'cert');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (managed_identity 'true', access_token 'x2');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', client_secret 'x1', managed_identity 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v OPTIONS (managed_identity 'maybe');
-- certificate credentials need a client, a certificate and a key, each once
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v OPTIONS (certificate :'cert');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate :'cert');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', private_key 'dummy');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate :'cert', certificate_file :'cert_file', private_key_file :'key_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate_file :'cert_file', private_key 'dummy', private_key_file :'key_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate 'not a certificate', private_key_file :'key_file');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate :'cert', private_key 'not a key');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate_file :'cert_file', private_key_file :'key_file', jwt_algorithm 'HS256');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', client_secret 'x1', jwt_algorithm 'RS256');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', client_secret 'x1', private_key_password 'x3');
-- a mapping with managed_identity 'false' holds no credential: refused
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v OPTIONS (managed_identity 'false');
SELECT umoptions FROM pg_user_mappings WHERE srvname = 'graph_v';

--
-- only a superuser may create or change mappings that use the host's
-- identity or read server files
--
CREATE ROLE msgraph_plain;
GRANT USAGE ON FOREIGN SERVER graph_v TO msgraph_plain;
GRANT USAGE ON FOREIGN SERVER graph_mi TO msgraph_plain;
GRANT SELECT ON mi_scores TO msgraph_plain;
SET ROLE msgraph_plain;
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v OPTIONS (managed_identity 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate_file :'cert_file', private_key 'dummy');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate :'cert', private_key_file :'key_file');
-- PEM text is the user's own: allowed
CREATE USER MAPPING FOR CURRENT_USER SERVER graph_v
  OPTIONS (client_id 'c', certificate :'cert', private_key :'key');
DROP USER MAPPING FOR CURRENT_USER SERVER graph_v;
RESET ROLE;
-- a superuser may give the user the host's identity; the user may use it
-- but not change the mapping
CREATE USER MAPPING FOR msgraph_plain SERVER graph_mi OPTIONS (managed_identity 'true');
SET ROLE msgraph_plain;
SELECT count(id) FROM mi_scores;
ALTER USER MAPPING FOR CURRENT_USER SERVER graph_mi
  OPTIONS (ADD client_id 'aaaaaaaa-bbbb-4ccc-8ddd-0000000000a1');
RESET ROLE;
DROP USER MAPPING FOR msgraph_plain SERVER graph_mi;
REVOKE SELECT ON mi_scores FROM msgraph_plain;
REVOKE USAGE ON FOREIGN SERVER graph_mi FROM msgraph_plain;
REVOKE USAGE ON FOREIGN SERVER graph_v FROM msgraph_plain;
DROP ROLE msgraph_plain;

DROP SERVER graph_v;
DROP SERVER graph_cert, graph_mi, graph_gov CASCADE;
DROP FUNCTION try_auth(text), token_requests(), assertion_shape(jsonb, text);
