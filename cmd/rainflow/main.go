// Command rainflow is Rainflow's one binary: each subcommand is one process of the platform.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name  string
	short string
	run   func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"api", "serve the REST API (starts operations as Temporal workflows)", runAPI},
		{"worker", "run the Temporal worker: workflows and their Kubernetes, registry and store activities", runWorker},
		{"gateway", "serve outside traffic, routed from Kubernetes Ingress, Service and EndpointSlice", runGateway},
		{"collector", "ingest, store and serve operation events, build output and runtime logs", runCollector},
		{"dev", "start the whole platform locally on its embedded defaults (make run)", runDev},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rainflow:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	usage()
	return fmt.Errorf("unknown command %q", args[0])
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: rainflow <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintln(os.Stderr, "\nEvery flag can also be set by an environment variable, shown in `rainflow <command> -h`.")
}
