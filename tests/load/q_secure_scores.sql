-- secure scores (at most 4 in flight per application and tenant)
SELECT max(current_score), count(id) FROM graph.secure_scores;
