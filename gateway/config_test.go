package gateway

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "zero config takes the defaults", cfg: Config{}},
		{name: "namespaces", cfg: Config{Namespaces: []string{"shop", "blog"}}},
		{name: "bad class", cfg: Config{IngressClass: "Not_A_Class"}, wantErr: `gateway ingress class "Not_A_Class"`},
		{name: "bad listen", cfg: Config{HTTPListen: "7481"}, wantErr: `gateway HTTP listen address "7481"`},
		{name: "bad admin listen", cfg: Config{AdminListen: "localhost"}, wantErr: `gateway admin listen address "localhost"`},
		{name: "negative resync", cfg: Config{Resync: -time.Second}, wantErr: "gateway resync -1s is negative"},
		{name: "bad namespace", cfg: Config{Namespaces: []string{"Shop"}}, wantErr: `gateway namespace "Shop"`},
		{name: "https", cfg: Config{HTTPSListen: "127.0.0.1:7443", DefaultCert: "c.pem", DefaultKey: "k.pem"}},
		{name: "bad https listen", cfg: Config{HTTPSListen: "7443"}, wantErr: `gateway HTTPS listen address "7443"`},
		{name: "certificate without key", cfg: Config{DefaultCert: "c.pem"}, wantErr: "give both the certificate and the key files"},
		{name: "key without certificate", cfg: Config{DefaultKey: "k.pem"}, wantErr: "give both the certificate and the key files"},
		{name: "negative ejection", cfg: Config{Health: PassiveHealth{EjectFor: -time.Second}}, wantErr: "passive health"},
		{name: "namespace twice", cfg: Config{Namespaces: []string{"shop", "shop"}}, wantErr: `gateway namespace "shop" is listed twice`},
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
	d := Config{}.withDefaults()
	assert.Equal(t, Config{IngressClass: "rainflow", HTTPListen: "127.0.0.1:7481", AdminListen: "127.0.0.1:7491",
		Resync: 10 * time.Second, Throttle: 100 * time.Millisecond, ShutdownTimeout: 10 * time.Second,
		Health: PassiveHealth{EjectAfter: 3, EjectFor: 10 * time.Second}}, d)
}
