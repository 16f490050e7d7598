-- one alert by id (a get by id: one request)
\set n random(1, 300)
SELECT id, severity, title FROM graph.alerts WHERE id = (SELECT id FROM alert_ids WHERE n = :n);
