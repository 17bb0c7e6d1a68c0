package main

import (
	"context"
	"fmt"

	"github.com/rainflow/rainflow/collector"
)

func runCollector(ctx context.Context, args []string) error {
	var cfg collector.Config
	f := newFlags("collector")
	f.str(&cfg.Listen, "listen", "", "127.0.0.1:7482", "address of the ingest and query API")
	f.str(&cfg.DataDir, "data-dir", "", ".rainflow/collector", "folder of the log segments")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid collector config: %w", err)
	}
	logger := newLogger("collector")
	c, err := collector.New(cfg, logger)
	if err != nil {
		return fmt.Errorf("create collector: %w", err)
	}
	logger.Info("collector starting", "listen", cfg.Listen, "data", cfg.DataDir)
	return c.Run(ctx)
}
