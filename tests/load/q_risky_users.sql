SELECT id, user_principal_name, risk_level FROM graph.risky_users WHERE risk_level = 'high';
