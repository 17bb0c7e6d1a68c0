// Package store keeps Rainflow's metadata (tenants, apps, components, operations, releases) in a SQL
// database through gorm: SQLite by default, MySQL/MariaDB or PostgreSQL in production. Its schema is created by
// numbered migrations that Open applies; its errors are the typed ones in errors.go.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	drivermysql "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// Store is the metadata database. It is safe for concurrent use.
type Store struct {
	db     *gorm.DB
	driver string
	cfg    Config
	// componentRead is ReadComponent's statement, prepared once (and by database/sql once per
	// connection), closed by Close.
	componentRead *sql.Stmt
}

// Open connects to the database the config names and applies the migrations it lacks.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("validate store config: %w", err)
	}
	cfg = cfg.withDefaults()
	if cfg.Driver == DriverSQLite && !isSQLiteMemory(cfg.DSN) && !strings.HasPrefix(cfg.DSN, "file:") {
		path, _, _ := strings.Cut(cfg.DSN, "?")
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}

	dialector, err := newDialector(cfg)
	if err != nil {
		return nil, err
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		// SQLite (modernc, in Go) spends ~40% of a read's CPU parsing, planning and freeing each
		// statement again: keep them prepared, per connection. MySQL talks one round trip with
		// interpolated parameters instead; PostgreSQL's driver keeps its own statement cache.
		PrepareStmt:            cfg.Driver == DriverSQLite,
		PrepareStmtMaxSize:     512,
		PrepareStmtTTL:         time.Hour,
		TranslateError:         true,
		SkipDefaultTransaction: true, // every write that needs one opens its own
		NowFunc:                now,
		Logger: gormlogger.NewSlogLogger(cfg.Logger, gormlogger.Config{
			SlowThreshold:             cfg.SlowQuery,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true, // specs carry env values: never log bound values
			LogLevel:                  gormlogger.Warn,
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", cfg.Driver, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", cfg.Driver, err)
	}
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	if cfg.Driver == DriverSQLite && isSQLiteMemory(cfg.DSN) {
		sqlDB.SetMaxOpenConns(1) // every connection to :memory: is a database of its own
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	// Keep every connection the pool may open: database/sql keeps 2 idle by default, so under
	// concurrent requests the others were closed after each query and opened again for the next (a
	// MySQL handshake; a SQLite open that parses the schema again; a PostgreSQL server process).
	sqlDB.SetMaxIdleConns(cfg.MaxOpenConns)

	s := &Store{db: db, driver: cfg.Driver, cfg: cfg}
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if cfg.Driver == DriverPostgres {
		s.warnUnlessBytewise(ctx)
	}
	if cfg.Driver == DriverSQLite && wantsWAL(cfg.DSN) {
		if err := s.enableWAL(ctx); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	if err := s.Migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := s.prepareReads(ctx, sqlDB); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database's connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	if s.componentRead != nil {
		_ = s.componentRead.Close() // closing the pool closes it on every connection anyway
	}
	if err := sqlDB.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Driver names the database the store speaks to: DriverSQLite, DriverMySQL or DriverPostgres.
func (s *Store) Driver() string { return s.driver }

// now is the store's clock: UTC at microsecond precision, which SQLite, MySQL's DATETIME(6) and
// PostgreSQL's TIMESTAMPTZ keep exactly, so a time read back equals the time written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func newDialector(cfg Config) (gorm.Dialector, error) {
	switch cfg.Driver {
	case DriverMySQL:
		dsn, err := mysqlDSN(cfg.DSN)
		if err != nil {
			return nil, err
		}
		return mysql.New(mysql.Config{DSN: dsn}), nil
	case DriverPostgres:
		return postgresDialector(cfg)
	default:
		return sqliteDialector{dsn: sqliteDSN(cfg.DSN, cfg.BusyTimeout)}, nil
	}
}

// sqliteDSN adds the busy timeout, foreign keys and immediate write transactions to a SQLite DSN,
// unless the DSN sets them itself; each connection runs them as it opens. Immediate transactions take
// the write lock at BEGIN, so two writers wait for each other (busy timeout) instead of failing on a
// read-to-write upgrade. WAL is not set here: it is a property of the file, set once by enableWAL,
// because switching a new file to WAL from several connections at once fails with SQLITE_BUSY
// without waiting.
func sqliteDSN(dsn string, busy time.Duration) string {
	path, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		q = url.Values{}
	}
	have := map[string]bool{}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(strings.ToLower(p), "(")
		name, _, _ = strings.Cut(name, "=")
		have[strings.TrimSpace(name)] = true
	}
	add := func(name, value string) {
		if !have[name] {
			q.Add("_pragma", name+"("+value+")")
		}
	}
	add("busy_timeout", fmt.Sprint(busy.Milliseconds()))
	add("foreign_keys", "1")
	if !isSQLiteMemory(dsn) {
		add("synchronous", "NORMAL") // safe with WAL: a crash loses at most the last commits, never the file
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// wantsWAL: a file database uses WAL unless its DSN chose another journal mode.
func wantsWAL(dsn string) bool {
	return !isSQLiteMemory(dsn) && !strings.Contains(strings.ToLower(dsn), "journal_mode")
}

func isSQLiteMemory(dsn string) bool {
	return strings.HasPrefix(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// mysqlDSN makes a MySQL DSN read DATETIME as UTC time.Time and speak utf8mb4.
func mysqlDSN(dsn string) (string, error) {
	c, err := drivermysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("parse mysql DSN: %w", err)
	}
	c.ParseTime = true
	c.Loc = time.UTC
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	if _, ok := c.Params["charset"]; !ok {
		c.Params["charset"] = "utf8mb4"
	}
	if c.Collation == "" || c.Collation == "utf8mb4_general_ci" {
		c.Collation = "utf8mb4_bin"
	}
	if !strings.Contains(dsn, "interpolateParams=") {
		// One round trip a query: without it the driver prepares, executes and closes a statement on
		// the server for every query with arguments (three packets, two waits). Safe with utf8mb4.
		c.InterpolateParams = true
	}
	return c.FormatDSN(), nil
}

// sealSecret seals a secret for the row ad names (see package seal).
func (s *Store) sealSecret(plaintext []byte, ad string) (string, error) {
	if s.cfg.Keyring == nil {
		return "", ErrNoKeyring
	}
	return s.cfg.Keyring.Seal(plaintext, ad)
}

// openSecret opens a secret sealSecret sealed for the row ad names.
func (s *Store) openSecret(sealed, ad string) ([]byte, error) {
	if s.cfg.Keyring == nil {
		return nil, ErrNoKeyring
	}
	plain, err := s.cfg.Keyring.Open(sealed, ad)
	if err != nil {
		return nil, fmt.Errorf("open secret of %s: %w", ad, err)
	}
	return plain, nil
}
