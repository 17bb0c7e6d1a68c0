package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// migrateLockWait is how long a MySQL or PostgreSQL migrator waits for another process's migration to
// finish.
const migrateLockWait = 60 * time.Second

// Migrate applies, in order, the schema steps the database lacks, each once and each in a transaction
// where the database allows it (SQLite, PostgreSQL; MySQL commits DDL at once, so its steps are written
// to be re-runnable). Running it again is a no-op. Several processes may run it at once: SQLite
// serializes them on its write lock, MySQL on a named lock, PostgreSQL on an advisory lock; the lock is
// taken before the schema_migrations table is created, since two PostgreSQL sessions creating the same
// table at once can fail.
func (s *Store) Migrate(ctx context.Context) error {
	return s.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		var unlock func()
		var err error
		switch s.driver {
		case DriverMySQL:
			unlock, err = lockMySQL(conn)
		case DriverPostgres:
			unlock, err = lockPostgres(ctx, conn)
		}
		if err != nil {
			return err
		}
		if unlock != nil {
			defer unlock()
		}
		if err := conn.Exec(schemaMigrationsTable(s.driver)).Error; err != nil {
			return fmt.Errorf("create schema_migrations table: %w", err)
		}

		applied, err := appliedVersions(conn)
		if err != nil {
			return err
		}
		steps := orderedSteps()
		latest := steps[len(steps)-1].version
		for v := range applied {
			if v > latest {
				return fmt.Errorf("migrate schema: database is at version %d, newer than this binary's %d", v, latest)
			}
		}
		for _, step := range steps {
			if applied[step.version] {
				continue
			}
			if err := s.apply(ctx, conn, step); err != nil {
				return err
			}
		}
		return nil
	})
}

// SchemaVersion answers the highest schema step applied, 0 on an empty database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.WithContext(ctx).Raw("SELECT MAX(version) FROM schema_migrations").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// apply runs one step and records it, unless another migrator recorded it first.
func (s *Store) apply(ctx context.Context, conn *gorm.DB, step migration) error {
	statements := step.sqlite
	switch s.driver {
	case DriverMySQL:
		statements = step.mysql
	case DriverPostgres:
		var err error
		if statements, err = step.postgresStatements(); err != nil {
			return err
		}
	}
	err := conn.Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", step.version).Scan(&n).Error; err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			return nil
		}
		for i, stmt := range statements {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("run statement %d: %w", i+1, err)
			}
		}
		return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			step.version, step.name, now()).Error
	})
	if err != nil {
		return fmt.Errorf("apply schema migration %d (%s): %w", step.version, step.name, err)
	}
	s.cfg.Logger.InfoContext(ctx, "applied schema migration",
		"version", step.version, "name", step.name, "driver", s.driver)
	return nil
}

func appliedVersions(conn *gorm.DB) (map[int]bool, error) {
	var versions []int
	if err := conn.Raw("SELECT version FROM schema_migrations").Scan(&versions).Error; err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}

// lockMySQL takes a named lock (per database) on the connection, so that two processes starting at
// once do not migrate together; it returns the function that releases it.
func lockMySQL(conn *gorm.DB) (func(), error) {
	const name = "LEFT(CONCAT('rainflow.migrate.', DATABASE()), 64)"
	var got sql.NullInt64
	err := conn.Raw("SELECT GET_LOCK("+name+", ?)", int(migrateLockWait.Seconds())).Scan(&got).Error
	if err != nil {
		return nil, fmt.Errorf("lock schema migrations: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return nil, errors.New("lock schema migrations: another process held the lock for " + migrateLockWait.String())
	}
	return func() { conn.Exec("SELECT RELEASE_LOCK(" + name + ")") }, nil
}

// LatestSchemaVersion is the schema version this binary migrates a database to.
func LatestSchemaVersion() int {
	steps := orderedSteps()
	return steps[len(steps)-1].version
}

// orderedSteps answers the schema's steps by version (schemaSteps lists them in any order), and panics
// on a version given twice: that is a programming error no database must see.
func orderedSteps() []migration {
	steps := slices.Clone(schemaSteps())
	slices.SortFunc(steps, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(steps); i++ {
		if steps[i].version == steps[i-1].version {
			panic(fmt.Sprintf("store: schema migration %d is defined twice", steps[i].version))
		}
	}
	return steps
}
