package store

import (
	"fmt"
	"strings"
)

// PostgreSQL statements of a migration step. A step may list them itself (migration.postgres); when it
// does not, they are translated from its SQLite statements, which are already close to PostgreSQL's
// dialect: only the types differ. The translation is deliberately small and strict: it maps the types
// below, keeps everything else as written, and refuses what it cannot map faithfully, so that a step
// using it fails in its author's unit test (TestPostgresTranslatesEveryStep) rather than on a
// production database. A refused step lists its postgres statements by hand.
//
//	SQLite            PostgreSQL         why
//	DATETIME          TIMESTAMPTZ        an instant at microsecond precision, read back in UTC (see store.go)
//	INTEGER, INT      BIGINT             SQLite integers are 64-bit
//	REAL              DOUBLE PRECISION   SQLite reals are 8-byte floats
//	BLOB              BYTEA
//	TEXT, BOOLEAN     as written
//
// Names are not given a collation: PostgreSQL compares them exactly for equality (so unique names are
// case-sensitive, as on SQLite and MySQL) and orders them by the database's collation; a database
// created with LC_COLLATE 'C' orders them bytewise, as SQLite and MySQL do (Open warns otherwise).
// Column-level COLLATE "C" would force it, but CockroachDB refuses it on columns.

// sqliteToPostgresTypes maps SQLite type names (upper case) to PostgreSQL's.
var sqliteToPostgresTypes = map[string]string{
	"DATETIME": "TIMESTAMPTZ",
	"INTEGER":  "BIGINT",
	"INT":      "BIGINT",
	"REAL":     "DOUBLE PRECISION",
	"BLOB":     "BYTEA",
}

// sqliteOnly lists the words (upper case) the translation refuses, and why: SQLite syntax PostgreSQL
// lacks or means otherwise, or types whose meaning differs between the two.
var sqliteOnly = map[string]string{
	"AUTOINCREMENT": "PostgreSQL generates ids with GENERATED ... AS IDENTITY",
	"PRAGMA":        "PostgreSQL has no PRAGMA",
	"WITHOUT":       "WITHOUT ROWID is SQLite's",
	"STRICT":        "STRICT tables are SQLite's",
	"GLOB":          "GLOB is SQLite's",
	"IFNULL":        "use COALESCE",
	"REPLACE":       "INSERT OR REPLACE is SQLite's (PostgreSQL: ON CONFLICT)",
	"IGNORE":        "INSERT OR IGNORE is SQLite's (PostgreSQL: ON CONFLICT DO NOTHING)",
	"STRFTIME":      "SQLite's date functions do not exist in PostgreSQL",
	"JULIANDAY":     "SQLite's date functions do not exist in PostgreSQL",
	"UNIXEPOCH":     "SQLite's date functions do not exist in PostgreSQL",
	"COLLATE":       "collations are named differently in each database",
	"TIMESTAMP":     "use DATETIME (an instant); PostgreSQL's TIMESTAMP has no time zone",
	"VARCHAR":       "use TEXT: SQLite ignores the length, PostgreSQL enforces it",
	"CHAR":          "use TEXT: SQLite ignores the length, PostgreSQL pads and enforces it",
	"CHARACTER":     "use TEXT: SQLite ignores the length, PostgreSQL pads and enforces it",
	"NUMERIC":       "SQLite's NUMERIC is an affinity, PostgreSQL's an exact decimal",
	"DECIMAL":       "SQLite's DECIMAL is an affinity, PostgreSQL's an exact decimal",
	"FLOAT":         "say REAL (an 8-byte float)",
	"DOUBLE":        "say REAL (an 8-byte float)",
	"CLOB":          "use TEXT",
}

// postgresStatements answers the step's statements for PostgreSQL: its own, or its SQLite ones
// translated.
func (m migration) postgresStatements() ([]string, error) {
	if m.postgres != nil {
		return m.postgres, nil
	}
	out := make([]string, len(m.sqlite))
	for i, stmt := range m.sqlite {
		pg, err := sqliteToPostgres(stmt)
		if err != nil {
			return nil, fmt.Errorf("schema migration %d (%s), statement %d: %w; write the step's postgres statements",
				m.version, m.name, i+1, err)
		}
		out[i] = pg
	}
	return out, nil
}

// sqliteToPostgres translates one SQLite DDL statement (see the table above). String literals,
// quoted identifiers and comments are kept as they are.
func sqliteToPostgres(stmt string) (string, error) {
	var b strings.Builder
	b.Grow(len(stmt) + 32)
	for i := 0; i < len(stmt); {
		c := stmt[i]
		switch {
		case c == '\'' || c == '"':
			end := closingQuote(stmt, i)
			if end < 0 {
				return "", fmt.Errorf("unterminated %c quote at byte %d", c, i)
			}
			b.WriteString(stmt[i : end+1])
			i = end + 1
		case c == '`' || c == '[':
			return "", fmt.Errorf("%c-quoted identifier at byte %d: quote identifiers with \" (or not at all)", c, i)
		case c == '-' && i+1 < len(stmt) && stmt[i+1] == '-':
			end := strings.IndexByte(stmt[i:], '\n')
			if end < 0 {
				end = len(stmt) - i
			}
			b.WriteString(stmt[i : i+end])
			i += end
		case isWordByte(c) && !isDigit(c):
			j := i
			for j < len(stmt) && isWordByte(stmt[j]) {
				j++
			}
			word := stmt[i:j]
			upper := strings.ToUpper(word)
			if why, refused := sqliteOnly[upper]; refused {
				return "", fmt.Errorf("%s is not translated to PostgreSQL: %s", word, why)
			}
			if upper == "DATETIME" && strings.HasPrefix(strings.TrimLeft(stmt[j:], " \t\r\n"), "(") {
				return "", fmt.Errorf("datetime() is SQLite's date function")
			}
			if pg, ok := sqliteToPostgresTypes[upper]; ok {
				word = pg
			}
			b.WriteString(word)
			i = j
		case isWordByte(c): // a number: copy it whole, so that 1e5 is not read as a word
			j := i
			for j < len(stmt) && isWordByte(stmt[j]) {
				j++
			}
			b.WriteString(stmt[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// closingQuote answers the index of the quote closing the one at open, or -1; a doubled quote inside
// is an escape, not the end.
func closingQuote(s string, open int) int {
	q := s[open]
	for i := open + 1; i < len(s); i++ {
		if s[i] != q {
			continue
		}
		if i+1 < len(s) && s[i+1] == q {
			i++
			continue
		}
		return i
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// postgresSchemaMigrations is the PostgreSQL table that records which steps were applied.
const postgresSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL
	)`
