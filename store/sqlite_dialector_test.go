package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

func TestSQLiteQuoteTo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "components", want: "`components`"},
		{name: "table and column", in: "apps.name", want: "`apps`.`name`"},
		{name: "backtick doubled", in: "we`ird", want: "`we``ird`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			sqliteDialector{}.QuoteTo(&b, tt.in)
			require.Equal(t, tt.want, b.String())
		})
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, a, b string
		want       int
	}{
		{name: "equal", a: "3.35.0", b: "3.35.0", want: 0},
		{name: "newer minor", a: "3.51.1", b: "3.35.0", want: 1},
		{name: "older", a: "3.34.9", b: "3.35.0", want: -1},
		{name: "shorter equal", a: "3.35", b: "3.35.0", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, compareVersions(tt.a, tt.b))
		})
	}
}

// TestSQLiteDialector runs the statements the dialect writes itself on a real SQLite file: constraint
// errors become gorm's, OFFSET without LIMIT and a locking clause are valid SQLite, RETURNING works.
func TestSQLiteDialector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: filepath.Join(t.TempDir(), "d.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db := s.db.WithContext(ctx)
	require.NoError(t, db.Exec("CREATE TABLE things (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, parent INTEGER REFERENCES things(id))").Error)
	type thing struct {
		ID     int64
		Name   string
		Parent *int64
	}
	for _, n := range []string{"a", "b", "c"} {
		row := thing{Name: n}
		require.NoError(t, db.Table("things").Create(&row).Error)
		require.NotZero(t, row.ID, "the id comes back (RETURNING)")
	}
	require.ErrorIs(t, db.Table("things").Create(&thing{Name: "a"}).Error, gorm.ErrDuplicatedKey)
	missing := int64(99)
	require.ErrorIs(t, db.Table("things").Create(&thing{Name: "d", Parent: &missing}).Error, gorm.ErrForeignKeyViolated)

	var names []string
	require.NoError(t, db.Table("things").Order("id").Offset(1).Pluck("name", &names).Error)
	require.Equal(t, []string{"b", "c"}, names)
	require.NoError(t, db.Table("things").Clauses(clause.Locking{Strength: "UPDATE"}).Order("id").Limit(1).Pluck("name", &names).Error)
	require.Equal(t, []string{"a"}, names)
}
