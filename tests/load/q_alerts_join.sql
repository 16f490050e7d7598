-- alerts joined to the asset inventory by device
SELECT a.owner, count(*)
  FROM assets a JOIN graph.alerts g ON a.device = ANY (g.evidence_device_names)
 WHERE g.status <> 'resolved'
 GROUP BY a.owner;
