-- identity protection: high-risk detections of users at risk, with the
-- conditions on both sides sent as $filter
SELECT u.user_principal_name, d.risk_event_type, d.detected_date_time
  FROM graph.risk_detections d JOIN graph.risky_users u ON u.id = d.user_id
 WHERE d.risk_level = 'high' AND u.risk_level <> 'none';
