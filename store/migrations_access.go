package store

// accessMigration adds who may do what, and the audit trail: users, their API tokens (stored as
// SHA-256 digests only), tenant memberships with a role, and one row per change anyone asked for.
// Audit rows name their tenant without a foreign key, so the trail outlives a deleted tenant.
func accessMigration() migration {
	return migration{
		version: 5,
		name:    "users, tokens, memberships, audit trail",
		sqlite: []string{
			`CREATE TABLE IF NOT EXISTS users (
				id           TEXT     NOT NULL PRIMARY KEY,
				name         TEXT     NOT NULL,
				display_name TEXT     NOT NULL DEFAULT '',
				admin        BOOLEAN  NOT NULL DEFAULT FALSE,
				created_at   DATETIME NOT NULL,
				CONSTRAINT uq_users_name UNIQUE (name)
			)`,
			`CREATE TABLE IF NOT EXISTS api_tokens (
				id         TEXT     NOT NULL PRIMARY KEY,
				user_id    TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				name       TEXT     NOT NULL,
				digest     TEXT     NOT NULL,
				created_at DATETIME NOT NULL,
				expires_at DATETIME NULL,
				revoked_at DATETIME NULL,
				CONSTRAINT uq_api_tokens_digest UNIQUE (digest),
				CONSTRAINT uq_api_tokens_user_name UNIQUE (user_id, name)
			)`,
			`CREATE TABLE IF NOT EXISTS memberships (
				tenant_id  TEXT     NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				user_id    TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				role       TEXT     NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL,
				PRIMARY KEY (tenant_id, user_id)
			)`,
			`CREATE INDEX IF NOT EXISTS ix_memberships_user ON memberships (user_id, tenant_id)`,
			`CREATE TABLE IF NOT EXISTS audit_events (
				id           TEXT     NOT NULL PRIMARY KEY,
				created_at   DATETIME NOT NULL,
				tenant_id    TEXT     NULL,
				tenant_name  TEXT     NOT NULL DEFAULT '',
				principal    TEXT     NOT NULL,
				action       TEXT     NOT NULL,
				path         TEXT     NOT NULL,
				status       INTEGER  NOT NULL,
				request_id   TEXT     NOT NULL DEFAULT '',
				operation_id TEXT     NULL,
				remote_addr  TEXT     NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX IF NOT EXISTS ix_audit_events_tenant_created ON audit_events (tenant_id, created_at, id)`,
			`CREATE INDEX IF NOT EXISTS ix_audit_events_created ON audit_events (created_at, id)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS users (
				id           CHAR(36)     NOT NULL,
				name         VARCHAR(128) NOT NULL,
				display_name VARCHAR(255) NOT NULL DEFAULT '',
				admin        BOOLEAN      NOT NULL DEFAULT FALSE,
				created_at   DATETIME(6)  NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_users_name (name)
			)` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS api_tokens (
				id         CHAR(36)     NOT NULL,
				user_id    CHAR(36)     NOT NULL,
				name       VARCHAR(128) NOT NULL,
				digest     CHAR(64)     NOT NULL,
				created_at DATETIME(6)  NOT NULL,
				expires_at DATETIME(6)  NULL,
				revoked_at DATETIME(6)  NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_api_tokens_digest (digest),
				UNIQUE KEY uq_api_tokens_user_name (user_id, name),
				CONSTRAINT fk_api_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
			)` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS memberships (
				tenant_id  CHAR(36)    NOT NULL,
				user_id    CHAR(36)    NOT NULL,
				role       VARCHAR(16) NOT NULL,
				created_at DATETIME(6) NOT NULL,
				updated_at DATETIME(6) NOT NULL,
				PRIMARY KEY (tenant_id, user_id),
				KEY ix_memberships_user (user_id, tenant_id),
				CONSTRAINT fk_memberships_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
				CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
			)` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS audit_events (
				id           CHAR(36)      NOT NULL,
				created_at   DATETIME(6)   NOT NULL,
				tenant_id    CHAR(36)      NULL,
				tenant_name  VARCHAR(63)   NOT NULL DEFAULT '',
				principal    VARCHAR(255)  NOT NULL,
				action       VARCHAR(255)  NOT NULL,
				path         VARCHAR(2048) NOT NULL,
				status       INT           NOT NULL,
				request_id   VARCHAR(128)  NOT NULL DEFAULT '',
				operation_id CHAR(36)      NULL,
				remote_addr  VARCHAR(128)  NOT NULL DEFAULT '',
				PRIMARY KEY (id),
				KEY ix_audit_events_tenant_created (tenant_id, created_at, id),
				KEY ix_audit_events_created (created_at, id)
			)` + mysqlTable,
		},
	}
}
