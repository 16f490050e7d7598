-- high-severity alerts of the last 30 days, the columns an analyst reads
SELECT id, severity, status, title, created_date_time
  FROM graph.alerts
 WHERE severity = 'high' AND created_date_time > now() - interval '30 days'
 ORDER BY created_date_time DESC;
