-- identity protection: risky users joined to their risk detections (both
-- tables paged on the one-request-per-second identity protection budget)
SELECT u.risk_level, count(d.id) AS detections
  FROM graph.risky_users u JOIN graph.risk_detections d ON d.user_id = u.id
 GROUP BY u.risk_level;
