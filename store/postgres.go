package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// postgresDialector opens a PostgreSQL connection pool through pgx. Every connection speaks UTC and
// reads TIMESTAMPTZ columns as UTC times, so that a time read back equals the time written, as on
// SQLite and MySQL.
func postgresDialector(cfg Config) (gorm.Dialector, error) {
	conf, err := postgresConnConfig(cfg.DSN)
	if err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDB(*conf, stdlib.OptionAfterConnect(readTimesAsUTC))
	return postgres.New(postgres.Config{Conn: sqlDB}), nil
}

// postgresConnConfig parses a libpq DSN ("host=db user=rainflow dbname=rainflow") or URL
// ("postgres://rainflow@db:5432/rainflow"), and sets the session's time zone to UTC and its
// application name to rainflow unless the DSN sets them.
func postgresConnConfig(dsn string) (*pgx.ConnConfig, error) {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse postgres DSN: %w", err) // pgx leaves the password out
	}
	setDefault := func(name, value string) {
		for k := range c.RuntimeParams {
			if strings.EqualFold(k, name) {
				return
			}
		}
		c.RuntimeParams[name] = value
	}
	setDefault("timezone", "UTC")
	setDefault("application_name", "rainflow")
	return c, nil
}

// readTimesAsUTC makes the connection answer TIMESTAMPTZ values in UTC (pgx answers them in the local
// zone otherwise).
func readTimesAsUTC(_ context.Context, conn *pgx.Conn) error {
	conn.TypeMap().RegisterType(&pgtype.Type{
		Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
	})
	return nil
}

// postgresMigrateLock is the key of the advisory lock migrators hold. PostgreSQL scopes advisory locks
// to the database, so one key serves every database of a server.
const postgresMigrateLock int64 = 0x7261696e666c6f77 // "rainflow"

// lockPostgres takes the migration's advisory lock on the connection, waiting at most migrateLockWait
// for another process to release it, and returns the function that releases it.
func lockPostgres(ctx context.Context, conn *gorm.DB) (func(), error) {
	deadline := time.Now().Add(migrateLockWait)
	for {
		var got bool
		if err := conn.Raw("SELECT pg_try_advisory_lock(?)", postgresMigrateLock).Scan(&got).Error; err != nil {
			return nil, fmt.Errorf("lock schema migrations: %w", err)
		}
		if got {
			return func() { conn.Exec("SELECT pg_advisory_unlock(?)", postgresMigrateLock) }, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("lock schema migrations: another process held the lock for " + migrateLockWait.String())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock schema migrations: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// warnUnlessBytewise logs a warning when the database orders text otherwise than bytewise: lists
// ordered by name (tenants, apps, components, users) then come in the database collation's order, not
// in the order SQLite and MySQL answer them. Everything else, pagination included, works the same.
func (s *Store) warnUnlessBytewise(ctx context.Context) {
	var bytewise bool
	if err := s.db.WithContext(ctx).Raw("SELECT 'B' < 'a'").Scan(&bytewise).Error; err != nil {
		s.cfg.Logger.WarnContext(ctx, "could not check the database's collation", "err", err)
		return
	}
	if !bytewise {
		s.cfg.Logger.WarnContext(ctx, "the database does not order text bytewise: lists are ordered by its "+
			"collation, not as on SQLite and MySQL; create it with LC_COLLATE 'C' to order them bytewise")
	}
}
