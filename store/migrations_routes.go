package store

// routesMigration is schema step 4: a tenant's certificates (the key sealed), a component's routes, and
// the routes a release ran with.
//
// A route claims something no other route may claim: an HTTP route its host, path, path type, header
// and cookie match and whether it is a canary, within its tenant (match_key, a hash of those); a TCP or
// UDP route a port of the gateway, over every tenant (listen_key, "tcp/9000"). A route naming a
// certificate refers to it by (tenant, name), so the database refuses deleting a certificate in use.
// The ALTER of releases comes last: it is the one statement MySQL cannot run twice.
func routesMigration() migration {
	return migration{
		version: 4,
		name:    "certificates, routes, release routes",
		sqlite: []string{
			`CREATE TABLE IF NOT EXISTS certificates (
				id          TEXT     NOT NULL PRIMARY KEY,
				tenant_id   TEXT     NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
				name        TEXT     NOT NULL,
				cert_pem    TEXT     NOT NULL,
				key_sealed  TEXT     NOT NULL,
				subject     TEXT     NOT NULL DEFAULT '',
				issuer      TEXT     NOT NULL DEFAULT '',
				sans        TEXT     NOT NULL,
				not_before  DATETIME NOT NULL,
				not_after   DATETIME NOT NULL,
				fingerprint TEXT     NOT NULL,
				created_at  DATETIME NOT NULL,
				updated_at  DATETIME NOT NULL,
				CONSTRAINT uq_certificates_tenant_name UNIQUE (tenant_id, name)
			)`,
			`CREATE TABLE IF NOT EXISTS routes (
				id               TEXT     NOT NULL PRIMARY KEY,
				tenant_id        TEXT     NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
				component_id     TEXT     NOT NULL REFERENCES components (id) ON DELETE CASCADE,
				name             TEXT     NOT NULL,
				kind             TEXT     NOT NULL,
				host             TEXT     NOT NULL DEFAULT '',
				path             TEXT     NOT NULL DEFAULT '',
				path_type        TEXT     NOT NULL DEFAULT '',
				header_name      TEXT     NOT NULL DEFAULT '',
				header_value     TEXT     NOT NULL DEFAULT '',
				cookie_name      TEXT     NOT NULL DEFAULT '',
				cookie_value     TEXT     NOT NULL DEFAULT '',
				weight           INTEGER  NULL,
				certificate_name TEXT     NULL,
				force_https      BOOLEAN  NOT NULL DEFAULT FALSE,
				port_name        TEXT     NOT NULL DEFAULT '',
				port             INTEGER  NOT NULL,
				listen_port      INTEGER  NULL,
				match_key        TEXT     NULL,
				listen_key       TEXT     NULL,
				version          INTEGER  NOT NULL,
				created_at       DATETIME NOT NULL,
				updated_at       DATETIME NOT NULL,
				CONSTRAINT uq_routes_component_name UNIQUE (component_id, name),
				CONSTRAINT uq_routes_tenant_match UNIQUE (tenant_id, match_key),
				CONSTRAINT uq_routes_listen UNIQUE (listen_key),
				CONSTRAINT fk_routes_certificate FOREIGN KEY (tenant_id, certificate_name)
					REFERENCES certificates (tenant_id, name) ON DELETE RESTRICT ON UPDATE RESTRICT
			)`,
			`CREATE INDEX IF NOT EXISTS ix_routes_certificate ON routes (tenant_id, certificate_name)`,
			`ALTER TABLE releases ADD COLUMN routes TEXT NULL`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS certificates (
				id          CHAR(36)      NOT NULL,
				tenant_id   CHAR(36)      NOT NULL,
				name        VARCHAR(63)   NOT NULL,
				cert_pem    MEDIUMTEXT    NOT NULL,
				key_sealed  TEXT          NOT NULL,
				subject     VARCHAR(1024) NOT NULL DEFAULT '',
				issuer      VARCHAR(1024) NOT NULL DEFAULT '',
				sans        TEXT          NOT NULL,
				not_before  DATETIME(6)   NOT NULL,
				not_after   DATETIME(6)   NOT NULL,
				fingerprint VARCHAR(128)  NOT NULL,
				created_at  DATETIME(6)   NOT NULL,
				updated_at  DATETIME(6)   NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_certificates_tenant_name (tenant_id, name),
				CONSTRAINT fk_certificates_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
			)` + mysqlTable,
			`CREATE TABLE IF NOT EXISTS routes (
				id               CHAR(36)      NOT NULL,
				tenant_id        CHAR(36)      NOT NULL,
				component_id     CHAR(36)      NOT NULL,
				name             VARCHAR(63)   NOT NULL,
				kind             VARCHAR(8)    NOT NULL,
				host             VARCHAR(253)  NOT NULL DEFAULT '',
				path             VARCHAR(1024) NOT NULL DEFAULT '',
				path_type        VARCHAR(16)   NOT NULL DEFAULT '',
				header_name      VARCHAR(256)  NOT NULL DEFAULT '',
				header_value     VARCHAR(1024) NOT NULL DEFAULT '',
				cookie_name      VARCHAR(256)  NOT NULL DEFAULT '',
				cookie_value     VARCHAR(1024) NOT NULL DEFAULT '',
				weight           INT           NULL,
				certificate_name VARCHAR(63)   NULL,
				force_https      BOOLEAN       NOT NULL DEFAULT FALSE,
				port_name        VARCHAR(15)   NOT NULL DEFAULT '',
				port             INT           NOT NULL,
				listen_port      INT           NULL,
				match_key        CHAR(64)      NULL,
				listen_key       VARCHAR(16)   NULL,
				version          BIGINT        NOT NULL,
				created_at       DATETIME(6)   NOT NULL,
				updated_at       DATETIME(6)   NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_routes_component_name (component_id, name),
				UNIQUE KEY uq_routes_tenant_match (tenant_id, match_key),
				UNIQUE KEY uq_routes_listen (listen_key),
				KEY ix_routes_certificate (tenant_id, certificate_name),
				CONSTRAINT fk_routes_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE RESTRICT,
				CONSTRAINT fk_routes_component FOREIGN KEY (component_id) REFERENCES components (id) ON DELETE CASCADE,
				CONSTRAINT fk_routes_certificate FOREIGN KEY (tenant_id, certificate_name)
					REFERENCES certificates (tenant_id, name) ON DELETE RESTRICT ON UPDATE RESTRICT
			)` + mysqlTable,
			`ALTER TABLE releases ADD COLUMN routes LONGTEXT NULL`,
		},
	}
}
