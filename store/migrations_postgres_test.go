package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSQLiteToPostgres(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sqlite  string
		want    string
		wantErr string
	}{
		{
			name:   "types",
			sqlite: `CREATE TABLE t (id TEXT NOT NULL PRIMARY KEY, n INTEGER NOT NULL, b BOOLEAN NOT NULL DEFAULT FALSE, at DATETIME NULL, f REAL, raw BLOB)`,
			want:   `CREATE TABLE t (id TEXT NOT NULL PRIMARY KEY, n BIGINT NOT NULL, b BOOLEAN NOT NULL DEFAULT FALSE, at TIMESTAMPTZ NULL, f DOUBLE PRECISION, raw BYTEA)`,
		},
		{
			name:   "lower case types",
			sqlite: `alter table t add column canceled_at datetime null`,
			want:   `alter table t add column canceled_at TIMESTAMPTZ null`,
		},
		{
			name:   "words that only contain a type name stay",
			sqlite: `CREATE INDEX ix_datetime_integer ON t (integer_count, datetime_col)`,
			want:   `CREATE INDEX ix_datetime_integer ON t (integer_count, datetime_col)`,
		},
		{
			name:   "string literals, quoted identifiers and comments stay",
			sqlite: "CREATE TABLE t (\"INTEGER\" TEXT NOT NULL DEFAULT 'DATETIME ''INTEGER''' -- an INTEGER here\n, x INT)",
			want:   "CREATE TABLE t (\"INTEGER\" TEXT NOT NULL DEFAULT 'DATETIME ''INTEGER''' -- an INTEGER here\n, x BIGINT)",
		},
		{
			name:   "numbers stay",
			sqlite: `CREATE TABLE t (n INTEGER NOT NULL DEFAULT 1e3)`,
			want:   `CREATE TABLE t (n BIGINT NOT NULL DEFAULT 1e3)`,
		},
		{
			name:    "autoincrement",
			sqlite:  `CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)`,
			wantErr: "AUTOINCREMENT is not translated",
		},
		{
			name:    "sqlite collation",
			sqlite:  `CREATE TABLE t (name TEXT COLLATE NOCASE)`,
			wantErr: "COLLATE is not translated",
		},
		{
			name:    "bounded text",
			sqlite:  `CREATE TABLE t (name VARCHAR(63))`,
			wantErr: "VARCHAR is not translated",
		},
		{
			name:    "insert or replace",
			sqlite:  `INSERT OR REPLACE INTO t VALUES (1)`,
			wantErr: "REPLACE is not translated",
		},
		{
			name:    "date function",
			sqlite:  `UPDATE t SET at = datetime('now')`,
			wantErr: "datetime() is SQLite's",
		},
		{
			name:    "backquotes",
			sqlite:  "CREATE TABLE `t` (id TEXT)",
			wantErr: "quote identifiers with",
		},
		{
			name:    "unterminated literal",
			sqlite:  `CREATE TABLE t (id TEXT DEFAULT 'x)`,
			wantErr: "unterminated ' quote",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sqliteToPostgres(tt.sqlite)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestPostgresTranslatesEveryStep: every schema step has PostgreSQL statements, its own or translated
// (a step the translation refuses must list them), and none keeps a SQLite-only type.
func TestPostgresTranslatesEveryStep(t *testing.T) {
	t.Parallel()
	for _, step := range orderedSteps() {
		stmts, err := step.postgresStatements()
		require.NoError(t, err)
		require.NotEmpty(t, stmts, "step %d", step.version)
		for _, stmt := range stmts {
			require.NotContains(t, strings.ToUpper(stmt), "DATETIME", "step %d: %s", step.version, stmt)
		}
	}
}

func TestPostgresOwnStatementsWin(t *testing.T) {
	t.Parallel()
	m := migration{version: 99, name: "own", sqlite: []string{"CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)"},
		postgres: []string{"CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY)"}}
	got, err := m.postgresStatements()
	require.NoError(t, err)
	require.Equal(t, m.postgres, got)

	m.postgres = nil
	_, err = m.postgresStatements()
	require.ErrorContains(t, err, "schema migration 99 (own), statement 1: AUTOINCREMENT is not translated")
	require.ErrorContains(t, err, "write the step's postgres statements")
}
