-- identity protection: 1 request per second per tenant, no Retry-After
SELECT risk_level, count(id) FROM graph.risk_detections GROUP BY risk_level;
