package store

// migration is one numbered schema step. Steps are applied in order, each once; a step is never edited
// after it ships, a change is a new step. Each dialect has its own statements so that types and indexes
// are exactly what that database needs (MySQL indexes need bounded VARCHARs; SQLite has no DATETIME(6)).
// Statements are written to be safe to run again (IF NOT EXISTS), because MySQL commits DDL at once and
// cannot roll a half-applied step back.
//
// PostgreSQL runs each step in one transaction. Its statements are usually not written by hand: when
// postgres is nil they are translated from the sqlite ones (migrations_postgres.go says how, and what it
// refuses); a step the translation refuses, or one that wants other types there, lists them.
type migration struct {
	version  int
	name     string
	sqlite   []string
	mysql    []string
	postgres []string // nil: translated from sqlite
}

// mysqlTable is the suffix of every MySQL table: InnoDB for foreign keys and transactions; a binary
// collation so that names and idempotency keys compare exactly, as they do on SQLite.
const mysqlTable = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

// schemaSteps is the schema's history, oldest first.
func schemaSteps() []migration {
	return []migration{
		{
			version: 1,
			name:    "tenants, apps, components, operations, releases",
			sqlite: []string{
				`CREATE TABLE IF NOT EXISTS tenants (
				id           TEXT     NOT NULL PRIMARY KEY,
				name         TEXT     NOT NULL,
				display_name TEXT     NOT NULL DEFAULT '',
				created_at   DATETIME NOT NULL,
				CONSTRAINT uq_tenants_name UNIQUE (name)
			)`,
				`CREATE TABLE IF NOT EXISTS apps (
				id         TEXT     NOT NULL PRIMARY KEY,
				tenant_id  TEXT     NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
				name       TEXT     NOT NULL,
				created_at DATETIME NOT NULL,
				CONSTRAINT uq_apps_tenant_name UNIQUE (tenant_id, name)
			)`,
				`CREATE TABLE IF NOT EXISTS components (
				id         TEXT     NOT NULL PRIMARY KEY,
				tenant_id  TEXT     NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
				app_id     TEXT     NOT NULL REFERENCES apps (id) ON DELETE RESTRICT,
				name       TEXT     NOT NULL,
				spec       TEXT     NOT NULL,
				version    INTEGER  NOT NULL,
				created_at DATETIME NOT NULL,
				updated_at DATETIME NOT NULL,
				CONSTRAINT uq_components_app_name UNIQUE (app_id, name)
			)`,
				`CREATE TABLE IF NOT EXISTS operations (
				id              TEXT     NOT NULL PRIMARY KEY,
				tenant_id       TEXT     NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				app_id          TEXT     NULL REFERENCES apps (id) ON DELETE SET NULL,
				component_id    TEXT     NULL REFERENCES components (id) ON DELETE SET NULL,
				kind            TEXT     NOT NULL,
				workflow_id     TEXT     NOT NULL,
				run_id          TEXT     NOT NULL DEFAULT '',
				idempotency_key TEXT     NULL,
				requested_by    TEXT     NOT NULL DEFAULT '',
				created_at      DATETIME NOT NULL,
				CONSTRAINT uq_operations_tenant_idempotency_key UNIQUE (tenant_id, idempotency_key)
			)`,
				`CREATE INDEX IF NOT EXISTS ix_operations_component_created
				ON operations (component_id, created_at, id)`,
				`CREATE INDEX IF NOT EXISTS ix_operations_app ON operations (app_id)`,
				`CREATE TABLE IF NOT EXISTS releases (
				id           TEXT     NOT NULL PRIMARY KEY,
				component_id TEXT     NOT NULL REFERENCES components (id) ON DELETE CASCADE,
				operation_id TEXT     NOT NULL,
				image_digest TEXT     NOT NULL,
				spec         TEXT     NOT NULL,
				created_at   DATETIME NOT NULL
			)`,
				`CREATE INDEX IF NOT EXISTS ix_releases_component_created
				ON releases (component_id, created_at, id)`,
			},
			mysql: []string{
				`CREATE TABLE IF NOT EXISTS tenants (
				id           CHAR(36)     NOT NULL,
				name         VARCHAR(63)  NOT NULL,
				display_name VARCHAR(255) NOT NULL DEFAULT '',
				created_at   DATETIME(6)  NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_tenants_name (name)
			)` + mysqlTable,
				`CREATE TABLE IF NOT EXISTS apps (
				id         CHAR(36)    NOT NULL,
				tenant_id  CHAR(36)    NOT NULL,
				name       VARCHAR(63) NOT NULL,
				created_at DATETIME(6) NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_apps_tenant_name (tenant_id, name),
				CONSTRAINT fk_apps_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE RESTRICT
			)` + mysqlTable,
				`CREATE TABLE IF NOT EXISTS components (
				id         CHAR(36)    NOT NULL,
				tenant_id  CHAR(36)    NOT NULL,
				app_id     CHAR(36)    NOT NULL,
				name       VARCHAR(63) NOT NULL,
				spec       LONGTEXT    NOT NULL,
				version    BIGINT      NOT NULL,
				created_at DATETIME(6) NOT NULL,
				updated_at DATETIME(6) NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_components_app_name (app_id, name),
				CONSTRAINT fk_components_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE RESTRICT,
				CONSTRAINT fk_components_app FOREIGN KEY (app_id) REFERENCES apps (id) ON DELETE RESTRICT
			)` + mysqlTable,
				`CREATE TABLE IF NOT EXISTS operations (
				id              CHAR(36)     NOT NULL,
				tenant_id       CHAR(36)     NOT NULL,
				app_id          CHAR(36)     NULL,
				component_id    CHAR(36)     NULL,
				kind            VARCHAR(32)  NOT NULL,
				workflow_id     VARCHAR(255) NOT NULL,
				run_id          VARCHAR(64)  NOT NULL DEFAULT '',
				idempotency_key VARCHAR(255) NULL,
				requested_by    VARCHAR(255) NOT NULL DEFAULT '',
				created_at      DATETIME(6)  NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_operations_tenant_idempotency_key (tenant_id, idempotency_key),
				KEY ix_operations_component_created (component_id, created_at, id),
				KEY ix_operations_app (app_id),
				CONSTRAINT fk_operations_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
				CONSTRAINT fk_operations_app FOREIGN KEY (app_id) REFERENCES apps (id) ON DELETE SET NULL,
				CONSTRAINT fk_operations_component FOREIGN KEY (component_id) REFERENCES components (id) ON DELETE SET NULL
			)` + mysqlTable,
				`CREATE TABLE IF NOT EXISTS releases (
				id           VARCHAR(128) NOT NULL,
				component_id CHAR(36)     NOT NULL,
				operation_id CHAR(36)     NOT NULL,
				image_digest VARCHAR(512) NOT NULL,
				spec         LONGTEXT     NOT NULL,
				created_at   DATETIME(6)  NOT NULL,
				PRIMARY KEY (id),
				KEY ix_releases_component_created (component_id, created_at, id),
				CONSTRAINT fk_releases_component FOREIGN KEY (component_id) REFERENCES components (id) ON DELETE CASCADE
			)` + mysqlTable,
			},
		},
		{
			version: 2,
			name:    "operations canceled while queued",
			sqlite:  []string{`ALTER TABLE operations ADD COLUMN canceled_at DATETIME NULL`},
			mysql:   []string{`ALTER TABLE operations ADD COLUMN canceled_at DATETIME(6) NULL`},
		},
		secretEnvMigration(),
		routesMigration(),
		accessMigration(),
		tenantSettingsMigration(),
		versionsMigration(),
		buildsMigration(),
		credentialsMigration(),
		routeBalanceMigration(),
	}
}

// schemaMigrationsTable creates the table that records which steps were applied.
func schemaMigrationsTable(driver string) string {
	if driver == DriverPostgres {
		return postgresSchemaMigrations
	}
	if driver == DriverMySQL {
		return `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INT          NOT NULL,
			name       VARCHAR(255) NOT NULL,
			applied_at DATETIME(6)  NOT NULL,
			PRIMARY KEY (version)
		)` + mysqlTable
	}
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER  NOT NULL PRIMARY KEY,
		name       TEXT     NOT NULL,
		applied_at DATETIME NOT NULL
	)`
}
