-- active incidents with their alerts ($expand, pages of 50)
SELECT id, display_name, jsonb_array_length(alerts) AS alerts
  FROM graph.incidents WHERE status = 'active';
