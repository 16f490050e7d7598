-- The extension, a server on the emulator at :base and a user mapping with
-- the emulator's admin app (tests/emulator/README.md), and a schema graph:
-- what the demo-like scripts (benchmarks, memory and pushdown checks) share.
CREATE EXTENSION msgraph_security_fdw;
CREATE SERVER graph FOREIGN DATA WRAPPER msgraph_security_fdw
  OPTIONS (tenant_id '11111111-2222-3333-4444-555555555555',
           graph_url :'base', login_url :'base');
CREATE USER MAPPING FOR CURRENT_USER SERVER graph
  OPTIONS (client_id 'aaaaaaaa-bbbb-4ccc-8ddd-000000000001', client_secret 'emu-Secret.Admin~1');
CREATE SCHEMA graph;
