package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rainflow/rainflow/seal"
)

// Drivers the store speaks.
const (
	DriverSQLite   = "sqlite"
	DriverMySQL    = "mysql"    // MySQL and MariaDB
	DriverPostgres = "postgres" // PostgreSQL (and the SQL CockroachDB shares with it; not tested on CockroachDB)
)

// Config says which database the store opens.
type Config struct {
	// Driver is DriverSQLite (the default), DriverMySQL or DriverPostgres.
	Driver string
	// DSN is a file path (or "file:" URI) for SQLite, a go-sql-driver DSN
	// ("user:pass@tcp(host:3306)/rainflow") for MySQL, a libpq key=value DSN or a URL
	// ("postgres://user:pass@host:5432/rainflow?sslmode=verify-full") for PostgreSQL. The store adds what
	// it needs to each: WAL, a busy timeout and foreign keys for SQLite; parseTime, UTC and utf8mb4 for
	// MySQL; the UTC time zone for PostgreSQL.
	DSN string
	// BusyTimeout is how long a SQLite writer waits for the lock before failing. Default 5s.
	BusyTimeout time.Duration
	// MaxOpenConns caps the connection pool. Default 10 (MySQL, PostgreSQL), 4 (SQLite).
	MaxOpenConns int
	// SlowQuery is the duration above which a statement is logged as slow. Default 200ms.
	SlowQuery time.Duration
	// Logger receives slow statements and migration steps. Nil discards them.
	Logger *slog.Logger
	// Keyring seals secrets (secret env values, certificate keys, credentials) before they are written
	// and opens them when read. Nil: everything else works, and writing or reading a secret fails with
	// ErrNoKeyring.
	Keyring *seal.Keyring
}

// withDefaults returns the config with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Driver == "" {
		c.Driver = DriverSQLite
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 10
		if c.Driver == DriverSQLite {
			c.MaxOpenConns = 4
		}
	}
	if c.SlowQuery == 0 {
		c.SlowQuery = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate says what is wrong with the config, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	switch c.Driver {
	case DriverSQLite, DriverMySQL, DriverPostgres:
	default:
		errs = append(errs, fmt.Errorf("store driver %q is not one of %q, %q, %q", c.Driver, DriverSQLite, DriverMySQL, DriverPostgres))
	}
	if c.DSN == "" {
		errs = append(errs, errors.New("store DSN is empty"))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("store busy timeout %s is negative", c.BusyTimeout))
	}
	if c.MaxOpenConns < 0 {
		errs = append(errs, fmt.Errorf("store max open connections %d is negative", c.MaxOpenConns))
	}
	if c.SlowQuery < 0 {
		errs = append(errs, fmt.Errorf("store slow query threshold %s is negative", c.SlowQuery))
	}
	return errors.Join(errs...)
}
