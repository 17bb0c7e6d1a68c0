package main

import (
	"context"
	"fmt"

	"github.com/rainflow/rainflow/api"
	"github.com/rainflow/rainflow/store"
)

type apiConfig struct {
	API      api.Config
	Temporal temporalConfig
	DB       store.Config
}

func runAPI(ctx context.Context, args []string) error {
	var cfg apiConfig
	f := newFlags("api")
	cfg.Temporal.define(f)
	defineDB(f, &cfg.DB)
	f.str(&cfg.API.Listen, "listen", "", "127.0.0.1:7480", "address of the REST API")
	f.str(&cfg.API.AdminToken, "admin-token", "", "", "bearer token of the admin principal (at least 16 characters)")
	f.list(&cfg.API.RegistryInsecure, "insecure-registry", "RAINFLOW_INSECURE_REGISTRY", "", "registries reached over plain HTTP (loopback always is)")
	f.str(&cfg.API.Registry, "registry", "RAINFLOW_REGISTRY", "", "the platform's registry (host:port): built images and uploaded sources go there; empty: builds answer 503")
	f.str(&cfg.API.CollectorURL, "collector-url", "RAINFLOW_COLLECTOR_URL", "", "the collector that serves logs (http://host:port); empty: the logs routes answer 503")
	f.str(&cfg.API.TemporalUIURL, "temporal-ui-url", "RAINFLOW_TEMPORAL_UI_URL", "", "Temporal Web UI base URL, for links to an operation's workflow")
	f.str(&cfg.API.TLSCertFile, "tls-cert", "", "", "PEM certificate chain: serve HTTPS")
	f.str(&cfg.API.TLSKeyFile, "tls-key", "", "", "PEM private key of --tls-cert")
	f.str(&cfg.API.ClientCAFile, "tls-client-ca", "", "", "PEM CA bundle: verify client certificates (mutual TLS); a certificate's common name is a user's name")
	f.str(&cfg.API.ClientAuth, "tls-client-auth", "", "", "with --tls-client-ca: require (default) or optional")
	var insecure string
	f.str(&insecure, "allow-insecure-http", "", "false", "serve plain HTTP on a non-loopback address (true/false)")
	f.after(func() { cfg.API.AllowInsecureHTTP = insecure == "true" })
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.API.TemporalNamespace = cfg.Temporal.Namespace
	if err := cfg.Temporal.validate(); err != nil {
		return fmt.Errorf("invalid api config: %w", err)
	}
	if err := cfg.API.Validate(); err != nil {
		return fmt.Errorf("invalid api config: %w", err)
	}
	logger := newLogger("api")
	st, tc, closeAll, err := openStoreAndTemporal(ctx, cfg.DB, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer closeAll()
	srv := api.New(cfg.API, st, api.NewTemporalWorkflows(tc, logger),
		api.NewRegistryImageChecker(api.RegistryConfig{Insecure: cfg.API.RegistryInsecure}), logger)
	logger.Info("api starting", "listen", cfg.API.Listen, "temporal", cfg.Temporal.Address, "db", cfg.DB.Driver)
	return srv.Run(ctx)
}
