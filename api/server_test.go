package api_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/store"
)

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(t.TempDir(), "api.db")})
	require.NoError(t, err)
	defer st.Close()
	srv := api.New(api.Config{AdminToken: adminToken, ShutdownTimeout: 5 * time.Second}, st, newFakeWorkflows(), &fakeImages{}, slog.New(slog.DiscardHandler))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, string(body))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was done")
	}
}

func TestRunReportsABadAddress(t *testing.T) {
	t.Parallel()
	srv := api.New(api.Config{Listen: "127.0.0.1:notaport", AdminToken: adminToken}, nil, nil, nil, nil)
	err := srv.Run(t.Context())
	require.ErrorContains(t, err, "listen on 127.0.0.1:notaport")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     api.Config
		wantErr string
	}{
		{name: "admin token only", cfg: api.Config{AdminToken: adminToken}},
		{name: "tokens only", cfg: api.Config{Tokens: []api.Token{{Principal: "ci", Secret: aliceToken}}}},
		{name: "no token", cfg: api.Config{}, wantErr: "no bearer token configured"},
		{name: "plain HTTP off loopback", cfg: api.Config{AdminToken: adminToken, Listen: "0.0.0.0:7480"}, wantErr: "is not loopback: serve it with TLS"},
		{name: "plain HTTP off loopback allowed", cfg: api.Config{AdminToken: adminToken, Listen: "0.0.0.0:7480", AllowInsecureHTTP: true}},
		{name: "TLS off loopback", cfg: api.Config{AdminToken: adminToken, Listen: "[::]:7480", TLSCertFile: "c.pem", TLSKeyFile: "k.pem"}},
		{name: "cert without key", cfg: api.Config{AdminToken: adminToken, TLSCertFile: "c.pem"}, wantErr: "TLS needs both a certificate file and a key file"},
		{name: "client CA without TLS", cfg: api.Config{AdminToken: adminToken, ClientCAFile: "ca.pem"}, wantErr: "needs TLS"},
		{name: "client CA alone authenticates", cfg: api.Config{TLSCertFile: "c.pem", TLSKeyFile: "k.pem", ClientCAFile: "ca.pem"}},
		{name: "bad client auth", cfg: api.Config{AdminToken: adminToken, TLSCertFile: "c.pem", TLSKeyFile: "k.pem", ClientCAFile: "ca.pem", ClientAuth: "maybe"},
			wantErr: `client auth "maybe" is not "require" or "optional"`},
		{name: "short token", cfg: api.Config{AdminToken: "short"}, wantErr: `token of "admin" is shorter than 16 characters`},
		{name: "shared token", cfg: api.Config{AdminToken: adminToken, Tokens: []api.Token{{Principal: "ci", Secret: adminToken}}},
			wantErr: `token of "ci" is also another principal's token`},
		{name: "nameless principal", cfg: api.Config{Tokens: []api.Token{{Secret: aliceToken}}}, wantErr: "token 0 has no principal name"},
		{name: "bad listen", cfg: api.Config{AdminToken: adminToken, Listen: "7480"}, wantErr: `listen address "7480"`},
		{name: "bad insecure registry", cfg: api.Config{AdminToken: adminToken, RegistryInsecure: []string{"http://r:5000/"}},
			wantErr: `insecure registry "http://r:5000/" is not a host or host:port`},
		{name: "bad UI URL", cfg: api.Config{AdminToken: adminToken, TemporalUIURL: "localhost:8233"}, wantErr: "temporal UI URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
