-- The benchmark database: the extension over the emulator, and the
-- PL/Python peer an analyst would write by hand.
\ir ../runner/graph_server.sql
IMPORT FOREIGN SCHEMA security FROM SERVER graph INTO graph;
CREATE EXTENSION plpython3u;

-- py_alerts(url, token): pages the list with urllib, json.loads each page,
-- yields every column of graph.alerts but raw, typed alike.
DO $do$
DECLARE
  cols text;
  props text;
BEGIN
  SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum),
         string_agg(quote_literal(attname), ', ' ORDER BY attnum)
    INTO cols, props
    FROM pg_attribute WHERE attrelid = 'graph.alerts'::regclass AND attnum > 0 AND attname <> 'raw';
  EXECUTE format($f$
CREATE FUNCTION py_alerts(url text, token text) RETURNS TABLE (%s)
LANGUAGE plpython3u AS $py$
import json, urllib.request
names = [%s]
def camel(n):
    parts = n.split('_')
    return parts[0] + ''.join(p[:1].upper() + p[1:] for p in parts[1:])
props = [camel(n) for n in names]
DEVICE = '#microsoft.graph.security.deviceEvidence'
USER = '#microsoft.graph.security.userEvidence'
def value(e, p):
    if p == 'evidenceDeviceNames':
        ev = e.get('evidence')
        return None if ev is None else [x['deviceDnsName'] for x in ev if x.get('@odata.type') == DEVICE and x.get('deviceDnsName')]
    if p == 'evidenceUserPrincipalNames':
        ev = e.get('evidence')
        return None if ev is None else [x['userAccount']['userPrincipalName'] for x in ev if x.get('@odata.type') == USER and (x.get('userAccount') or {}).get('userPrincipalName')]
    v = e.get(p)
    if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
        return json.dumps(v)
    return v
jsonb = set(i for i, n in enumerate(names) if n in ('additional_data', 'comments', 'custom_details', 'evidence'))
next_url = url
while next_url:
    req = urllib.request.Request(next_url, headers={'Authorization': 'Bearer ' + token,
                                               'Prefer': 'include-unknown-enum-members'})
    with urllib.request.urlopen(req) as r:
        page = json.loads(r.read())
    for e in page['value']:
        row = [value(e, p) for p in props]
        for i in jsonb:
            if row[i] is not None and not isinstance(row[i], str):
                row[i] = json.dumps(row[i])
        yield row
    next_url = page.get('@odata.nextLink')
$py$ $f$, cols, props);
END $do$;

-- py_alerts5: the same loop yielding five columns
CREATE FUNCTION py_alerts5(url text, token text)
RETURNS TABLE (id text, severity text, status text, title text, created_date_time timestamptz)
LANGUAGE plpython3u AS $py$
import json, urllib.request
next_url = url
while next_url:
    req = urllib.request.Request(next_url, headers={'Authorization': 'Bearer ' + token,
                                               'Prefer': 'include-unknown-enum-members'})
    with urllib.request.urlopen(req) as r:
        page = json.loads(r.read())
    for e in page['value']:
        yield (e.get('id'), e.get('severity'), e.get('status'), e.get('title'), e.get('createdDateTime'))
    next_url = page.get('@odata.nextLink')
$py$;
