package store

// versionsMigration keeps each component's versions: the images it ran or that were built for it, by
// digest, with where each came from.
func versionsMigration() migration {
	return migration{
		version: 7,
		name:    "versions",
		sqlite: []string{
			`CREATE TABLE IF NOT EXISTS versions (
				id                 TEXT     NOT NULL PRIMARY KEY,
				component_id       TEXT     NOT NULL REFERENCES components (id) ON DELETE CASCADE,
				image_digest       TEXT     NOT NULL,
				source_kind        TEXT     NOT NULL,
				source             TEXT     NOT NULL DEFAULT '',
				revision           TEXT     NOT NULL DEFAULT '',
				build_operation_id TEXT     NULL,
				operation_id       TEXT     NULL,
				created_at         DATETIME NOT NULL,
				CONSTRAINT uq_versions_component_digest UNIQUE (component_id, image_digest)
			)`,
			`CREATE INDEX IF NOT EXISTS ix_versions_component_created ON versions (component_id, created_at, id)`,
		},
		mysql: []string{
			`CREATE TABLE IF NOT EXISTS versions (
				id                 CHAR(36)      NOT NULL,
				component_id       CHAR(36)      NOT NULL,
				image_digest       VARCHAR(512)  NOT NULL,
				source_kind        VARCHAR(16)   NOT NULL,
				source             VARCHAR(1024) NOT NULL DEFAULT '',
				revision           VARCHAR(255)  NOT NULL DEFAULT '',
				build_operation_id CHAR(36)      NULL,
				operation_id       CHAR(36)      NULL,
				created_at         DATETIME(6)   NOT NULL,
				PRIMARY KEY (id),
				UNIQUE KEY uq_versions_component_digest (component_id, image_digest),
				KEY ix_versions_component_created (component_id, created_at, id),
				CONSTRAINT fk_versions_component FOREIGN KEY (component_id) REFERENCES components (id) ON DELETE CASCADE
			)` + mysqlTable,
		},
	}
}

// buildsMigration adds what a build records of the version it made: the build key (an equal build of
// the same revision finds it), the builder, the language detected, the image's size and the build's
// duration.
func buildsMigration() migration {
	return migration{
		version: 8,
		name:    "versions of builds",
		sqlite: []string{
			`ALTER TABLE versions ADD COLUMN build_key TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE versions ADD COLUMN builder TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE versions ADD COLUMN language TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE versions ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0`,
			`ALTER TABLE versions ADD COLUMN build_ms BIGINT NOT NULL DEFAULT 0`,
			`CREATE INDEX IF NOT EXISTS ix_versions_component_build ON versions (component_id, build_key)`,
		},
		mysql: []string{
			`ALTER TABLE versions ADD COLUMN build_key VARCHAR(64) NOT NULL DEFAULT '',
				ADD COLUMN builder VARCHAR(32) NOT NULL DEFAULT '',
				ADD COLUMN language VARCHAR(32) NOT NULL DEFAULT '',
				ADD COLUMN size_bytes BIGINT NOT NULL DEFAULT 0,
				ADD COLUMN build_ms BIGINT NOT NULL DEFAULT 0,
				ADD KEY ix_versions_component_build (component_id, build_key)`,
		},
	}
}
