package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLineNormalize(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name    string
		line    Line
		wantErr string
		wantKey string
	}{
		{name: "event keyed by operation", line: Line{Kind: KindEvent, Tenant: "t1", App: "shop", Operation: "op-1", Component: "web"}, wantKey: "event/t1/shop/op-1"},
		{name: "build keyed by operation", line: Line{Kind: KindBuild, Tenant: "t1", App: "shop", Operation: "op-2"}, wantKey: "build/t1/shop/op-2"},
		{name: "runtime keyed by component", line: Line{Kind: KindRuntime, Tenant: "t1", App: "shop", Component: "web", Operation: "op-1"}, wantKey: "runtime/t1/shop/web"},
		{name: "access keyed by component", line: Line{Kind: KindAccess, Tenant: "t1", App: "shop", Component: "web"}, wantKey: "access/t1/shop/web"},
		{name: "missing kind", line: Line{Tenant: "t1", App: "shop", Operation: "op"}, wantErr: "kind is missing"},
		{name: "unknown kind", line: Line{Kind: "audit", Tenant: "t1", App: "shop", Operation: "op"}, wantErr: `kind "audit" is not one of`},
		{name: "missing tenant", line: Line{Kind: KindEvent, App: "shop", Operation: "op"}, wantErr: "tenant is missing"},
		{name: "event without operation", line: Line{Kind: KindEvent, Tenant: "t1", App: "shop", Component: "web"}, wantErr: "operation is missing"},
		{name: "runtime without component", line: Line{Kind: KindRuntime, Tenant: "t1", App: "shop", Operation: "op"}, wantErr: "component is missing"},
		{name: "path in a name", line: Line{Kind: KindEvent, Tenant: "../etc", App: "shop", Operation: "op"}, wantErr: `tenant "../etc" must be`},
		{name: "dot name", line: Line{Kind: KindEvent, Tenant: "t1", App: ".", Operation: "op"}, wantErr: `app "." must be`},
		{name: "unknown level", line: Line{Kind: KindEvent, Tenant: "t1", App: "shop", Operation: "op", Level: "fatal"}, wantErr: `level "fatal"`},
		{name: "negative attempt", line: Line{Kind: KindEvent, Tenant: "t1", App: "shop", Operation: "op", Attempt: -1}, wantErr: "attempt -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := tt.line
			err := l.normalize(now)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.wantKey, l.Key().String())
			assert.Equal(t, now, l.Time, "zero time set to the ingest time")
			assert.Equal(t, LevelInfo, l.Level, "empty level is info")
		})
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "simple", in: "web", want: true},
		{name: "all allowed characters", in: "Web-1_v2.beta", want: true},
		{name: "uuid", in: "0b6f1c1e-8a5d-4b7e-9a43-2f1d7a9c1e22", want: true},
		{name: "128 characters", in: strings.Repeat("a", 128), want: true},
		{name: "empty", in: "", want: false},
		{name: "129 characters", in: strings.Repeat("a", 129), want: false},
		{name: "leading dot", in: ".hidden", want: false},
		{name: "leading dash", in: "-x", want: false},
		{name: "slash", in: "a/b", want: false},
		{name: "space", in: "a b", want: false},
		{name: "non-ASCII", in: "café", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, validName(tt.in))
		})
	}
}
