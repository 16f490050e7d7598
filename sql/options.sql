--
-- options: validation of server, user mapping, table and column options
--
-- unknown options, with the valid ones in the HINT
CREATE SERVER bad FOREIGN DATA WRAPPER msgraph_security_fdw OPTIONS (tenant '1');
CREATE SERVER s1 FOREIGN DATA WRAPPER msgraph_security_fdw;
CREATE USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (password 'x');
CREATE FOREIGN TABLE t1 (id text) SERVER s1 OPTIONS (resource 'security/alerts_v2', top '5');
CREATE FOREIGN TABLE t1 (id text OPTIONS (name 'id')) SERVER s1 OPTIONS (resource 'security/alerts_v2');
ALTER FOREIGN DATA WRAPPER msgraph_security_fdw OPTIONS (ADD debug 'on');

-- bad values name the option
ALTER SERVER s1 OPTIONS (ADD cloud 'mars');
ALTER SERVER s1 OPTIONS (ADD api_version 'v2.0');
ALTER SERVER s1 OPTIONS (ADD page_size '0');
ALTER SERVER s1 OPTIONS (ADD page_size 'ten');
ALTER SERVER s1 OPTIONS (ADD timeout_ms '-5');
ALTER SERVER s1 OPTIONS (ADD connect_timeout_ms '99999999999');
ALTER SERVER s1 OPTIONS (ADD max_response_bytes '0');
ALTER SERVER s1 OPTIONS (ADD tenant_id 'contoso.com/../x');
ALTER SERVER s1 OPTIONS (ADD tenant_id '');

-- URLs: https, or http only on loopback
ALTER SERVER s1 OPTIONS (ADD graph_url 'http://graph.microsoft.com');
ALTER SERVER s1 OPTIONS (ADD graph_url 'http://10.0.0.1:8080');
ALTER SERVER s1 OPTIONS (ADD graph_url 'ftp://127.0.0.1');
ALTER SERVER s1 OPTIONS (ADD graph_url 'not a url');
ALTER SERVER s1 OPTIONS (ADD graph_url 'https://graph.microsoft.com?x=1');
ALTER SERVER s1 OPTIONS (ADD login_url 'http://127.0.0.2.example.com');
ALTER SERVER s1 OPTIONS (ADD graph_url 'https://graph.microsoft.com/');
ALTER SERVER s1 OPTIONS (ADD login_url 'http://127.0.0.1:8080');
ALTER SERVER s1 OPTIONS (SET login_url 'http://localhost:8080');
ALTER SERVER s1 OPTIONS (SET login_url 'http://[::1]:8080');
ALTER SERVER s1 OPTIONS (ADD cloud 'usgov', ADD api_version 'beta', ADD page_size '100',
                         ADD timeout_ms '5000', ADD connect_timeout_ms '1000',
                         ADD max_response_bytes '1048576',
                         ADD tenant_id 'contoso.onmicrosoft.com');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 's1';

-- user mappings hold exactly one kind of credential
CREATE USER MAPPING FOR CURRENT_USER SERVER s1
  OPTIONS (client_id 'c', client_secret 'x1', access_token 'x2');
CREATE USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (client_secret 'x1');
CREATE USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (client_id 'c', access_token 'x2');
CREATE USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (client_id 'c', client_secret '');
CREATE USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (client_id 'c', client_secret 'x1');
ALTER USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (ADD access_token 'x2');
ALTER USER MAPPING FOR CURRENT_USER SERVER s1 OPTIONS (DROP client_secret, DROP client_id, ADD access_token 'x2');
DROP USER MAPPING FOR CURRENT_USER SERVER s1;

-- foreign tables need a resource path
CREATE FOREIGN TABLE t1 (id text) SERVER s1;
CREATE FOREIGN TABLE t1 (id text) SERVER s1 OPTIONS (resource '/security/alerts_v2');
CREATE FOREIGN TABLE t1 (id text) SERVER s1 OPTIONS (resource 'security/alerts_v2?$top=1');
CREATE FOREIGN TABLE t1 (id text) SERVER s1 OPTIONS (resource 'https://evil.example/x');
CREATE FOREIGN TABLE t1 (id text) SERVER s1 OPTIONS (resource 'security/alerts_v2', page_size '-1');
CREATE FOREIGN TABLE t1 (id text, sev text OPTIONS (property 'severity', filterable 'maybe'))
  SERVER s1 OPTIONS (resource 'security/alerts_v2');
CREATE FOREIGN TABLE t1 (id text, sev text OPTIONS (property ''))
  SERVER s1 OPTIONS (resource 'security/alerts_v2');
CREATE FOREIGN TABLE t1 (id text, sev text OPTIONS (property 'severity', filterable 'true'))
  SERVER s1 OPTIONS (resource 'security/alerts_v2', page_size '10');
ALTER FOREIGN TABLE t1 OPTIONS (DROP resource);
DROP FOREIGN TABLE t1;
DROP SERVER s1;
