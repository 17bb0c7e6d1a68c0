package gateway

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestL4ConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     L4Config
		wantErr string
	}{
		{name: "defaults", cfg: L4Config{}},
		{name: "every address", cfg: L4Config{Host: "::"}},
		{name: "host name", cfg: L4Config{Host: "localhost"}},
		{name: "host with a port", cfg: L4Config{Host: "127.0.0.1:80"}, wantErr: `host "127.0.0.1:80" is neither`},
		{name: "negative idle timeout", cfg: L4Config{UDPIdleTimeout: -time.Second}, wantErr: "UDP idle timeout -1s is negative"},
		{name: "negative sessions", cfg: L4Config{UDPMaxSessions: -1}, wantErr: "UDP max sessions -1 is negative"},
		{name: "negative dial timeout", cfg: L4Config{DialTimeout: -1}, wantErr: "dial timeout -1ns is negative"},
		{name: "negative endpoint wait", cfg: L4Config{EndpointWait: -time.Second}, wantErr: "endpoint wait -1s is negative"},
		{name: "negative UDP wait bound", cfg: L4Config{UDPWaitBytes: -1}, wantErr: "UDP wait bounds (16 datagrams, -1 bytes, 256 clients) are negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestL4ConfigFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		httpListen string
		wantHost   string
	}{
		{name: "default HTTP listen address", httpListen: "", wantHost: "127.0.0.1"},
		{name: "the HTTP data plane's host", httpListen: "10.0.0.5:80", wantHost: "10.0.0.5"},
		{name: "IPv6", httpListen: "[::1]:80", wantHost: "::1"},
		{name: "every address", httpListen: ":80", wantHost: "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := l4ConfigFor(Config{HTTPListen: tt.httpListen})
			assert.Equal(t, tt.wantHost, got.Host)
			assert.Equal(t, DefaultUDPIdleTimeout, got.UDPIdleTimeout)
			assert.NoError(t, got.Validate())
		})
	}
}

// TestL4EndpointWaitConfig: the gateway's --l4-endpoint-wait reaches the L4 side, 5s by default, and a
// negative one is refused.
func TestL4EndpointWaitConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		wait    time.Duration
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: DefaultL4EndpointWait},
		{name: "set", wait: 200 * time.Millisecond, want: 200 * time.Millisecond},
		{name: "negative", wait: -time.Second, wantErr: "gateway L4 endpoint wait -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{L4EndpointWait: tt.wait}
			err := cfg.Validate()
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.want, l4ConfigFor(cfg).EndpointWait)
		})
	}
}
