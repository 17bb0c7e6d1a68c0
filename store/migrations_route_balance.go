package store

// routeBalanceMigration is schema step 10: a route's load-balancing policy (contract.RouteLoadBalance),
// kept in two columns like its header and cookie match; an empty policy is none (the gateway's default).
func routeBalanceMigration() migration {
	return migration{
		version: 10,
		name:    "route load balancing",
		sqlite: []string{
			`ALTER TABLE routes ADD COLUMN load_balance_policy TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE routes ADD COLUMN load_balance_hash_by TEXT NOT NULL DEFAULT ''`,
		},
		mysql: []string{
			`ALTER TABLE routes ADD COLUMN load_balance_policy VARCHAR(32) NOT NULL DEFAULT '',
				ADD COLUMN load_balance_hash_by VARCHAR(272) NOT NULL DEFAULT ''`,
		},
	}
}
