package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPostgresConnConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dsn      string
		wantZone string
		wantApp  string
	}{
		{name: "url", dsn: "postgres://rf:secret@db.example:5432/rainflow?sslmode=disable", wantZone: "UTC", wantApp: "rainflow"},
		{name: "key value", dsn: "host=db.example user=rf dbname=rainflow sslmode=disable", wantZone: "UTC", wantApp: "rainflow"},
		{name: "the DSN's own", dsn: "postgres://rf@db.example/rainflow?TimeZone=Europe/Paris&application_name=api", wantZone: "Europe/Paris", wantApp: "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := postgresConnConfig(tt.dsn)
			require.NoError(t, err)
			zone := c.RuntimeParams["timezone"]
			if z, ok := c.RuntimeParams["TimeZone"]; ok {
				zone = z
			}
			require.Equal(t, tt.wantZone, zone)
			require.Equal(t, tt.wantApp, c.RuntimeParams["application_name"])
			require.Equal(t, "db.example", c.Host)
		})
	}
	_, err := postgresConnConfig("postgres://rf:secret@db.example:notaport/rainflow")
	require.ErrorContains(t, err, "parse postgres DSN")
	require.NotContains(t, err.Error(), "secret", "the password stays out of errors")
}

func TestPostgresConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Config{Driver: DriverPostgres, DSN: "postgres://rf@127.0.0.1/rainflow"}.Validate())
	require.ErrorContains(t, Config{Driver: DriverPostgres}.Validate(), "store DSN is empty")
	require.Equal(t, 10, Config{Driver: DriverPostgres}.withDefaults().MaxOpenConns)
}

func TestOpenRejectsBadPostgresDSN(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), Config{Driver: DriverPostgres, DSN: "host=127.0.0.1 port=notaport"})
	require.ErrorContains(t, err, "parse postgres DSN")
}
