package store

// credentialsMigration is schema step 9: a tenant's named source credentials (git tokens, SSH keys,
// registry logins). The type, the host and who changed it last are plaintext; the secret parts are
// sealed together as one blob bound to the tenant, the name and the version. Rows go with their
// tenant (ON DELETE CASCADE).
func credentialsMigration() migration {
	return migration{
		version: 9,
		name:    "source credentials",
		sqlite: []string{
			`CREATE TABLE IF NOT EXISTS source_credentials (
				tenant_id  TEXT     NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				name       TEXT     NOT NULL,
				type       TEXT     NOT NULL,
				host       TEXT     NOT NULL DEFAULT '',
				version    INTEGER  NOT NULL,
				sealed     TEXT     NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL,
				updated_by TEXT     NOT NULL DEFAULT '',
				PRIMARY KEY (tenant_id, name)
			)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS source_credentials (
				tenant_id  CHAR(36)     NOT NULL,
				name       VARCHAR(63)  NOT NULL,
				type       VARCHAR(32)  NOT NULL,
				host       VARCHAR(255) NOT NULL DEFAULT '',
				version    BIGINT       NOT NULL,
				sealed     MEDIUMTEXT   NOT NULL,
				created_at DATETIME(6)  NOT NULL,
				updated_at DATETIME(6)  NOT NULL,
				updated_by VARCHAR(255) NOT NULL DEFAULT '',
				PRIMARY KEY (tenant_id, name),
				CONSTRAINT fk_source_credentials_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
			)` + mysqlTable,
		},
	}
}
