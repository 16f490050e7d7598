-- identity protection: users with at least one detection of medium or high
-- risk (a semi join), and how many are at each level
SELECT u.risk_level, count(*)
  FROM graph.risky_users u
 WHERE EXISTS (SELECT 1 FROM graph.risk_detections d
                WHERE d.user_id = u.id AND d.risk_level IN ('medium', 'high'))
 GROUP BY u.risk_level;
