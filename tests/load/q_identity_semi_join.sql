-- identity protection: users with at least one detection in the last 90
-- days (a semi join), and how many are at each level
SELECT u.risk_level, count(*)
  FROM graph.risky_users u
 WHERE EXISTS (SELECT 1 FROM graph.risk_detections d
                WHERE d.user_id = u.id
                  AND d.detected_date_time > now() - interval '90 days')
 GROUP BY u.risk_level;
