package store

// secretEnvMigration is schema step 3: a component's secret environment variables, one immutable row
// per version (names in plaintext, the values sealed together as one blob bound to the row), and the
// version each release ran with, so that a rollback restores it. Rows go with their component
// (ON DELETE CASCADE), as releases do. On MySQL the ALTER is last: a step half-applied before it can
// run again.
func secretEnvMigration() migration {
	return migration{
		version: 3,
		name:    "component secret env; releases remember their secret env version",
		sqlite: []string{
			`CREATE TABLE IF NOT EXISTS component_secret_env (
				component_id TEXT     NOT NULL REFERENCES components (id) ON DELETE CASCADE,
				version      INTEGER  NOT NULL,
				names        TEXT     NOT NULL,
				sealed       TEXT     NOT NULL,
				created_at   DATETIME NOT NULL,
				created_by   TEXT     NOT NULL DEFAULT '',
				PRIMARY KEY (component_id, version)
			)`,
			`ALTER TABLE releases ADD COLUMN secret_env_version INTEGER NOT NULL DEFAULT 0`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS component_secret_env (
				component_id CHAR(36)     NOT NULL,
				version      BIGINT       NOT NULL,
				names        MEDIUMTEXT   NOT NULL,
				sealed       MEDIUMTEXT   NOT NULL,
				created_at   DATETIME(6)  NOT NULL,
				created_by   VARCHAR(255) NOT NULL DEFAULT '',
				PRIMARY KEY (component_id, version),
				CONSTRAINT fk_component_secret_env_component FOREIGN KEY (component_id) REFERENCES components (id) ON DELETE CASCADE
			)` + mysqlTable,
			`ALTER TABLE releases ADD COLUMN secret_env_version BIGINT NOT NULL DEFAULT 0`,
		},
	}
}
