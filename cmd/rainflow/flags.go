package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// flags is a FlagSet whose every flag can also come from an environment variable: the flag wins,
// then the variable, then the default.
type flags struct {
	*flag.FlagSet
	prefix   string
	errs     []error
	afterFns []func()
}

func newFlags(cmd string) *flags {
	fs := flag.NewFlagSet("rainflow "+cmd, flag.ContinueOnError)
	return &flags{FlagSet: fs, prefix: "RAINFLOW_" + strings.ToUpper(cmd) + "_"}
}

func (f *flags) envName(name string) string {
	return f.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// str defines a string flag; env overrides the default; shared names (like RAINFLOW_TEMPORAL_ADDRESS)
// can be given with a leading "RAINFLOW_" in env.
func (f *flags) str(p *string, name, env, def, usage string) {
	if env == "" {
		env = f.envName(name)
	}
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.StringVar(p, name, def, usage+" ($"+env+")")
}

func (f *flags) list(p *[]string, name, env, def, usage string) {
	var s string
	f.str(&s, name, env, def, usage+", comma-separated")
	f.after(func() {
		*p = nil
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				*p = append(*p, v)
			}
		}
	})
}

func (f *flags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if env == "" {
		env = f.envName(name)
	}
	if v, ok := os.LookupEnv(env); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %w", env, err))
		} else {
			def = d
		}
	}
	f.DurationVar(p, name, def, usage+" ($"+env+")")
}

func (f *flags) integer(p *int, name, env string, def int, usage string) {
	if env == "" {
		env = f.envName(name)
	}
	if v, ok := os.LookupEnv(env); ok {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %w", env, err))
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, usage+" ($"+env+")")
}

func (f *flags) after(fn func()) {
	f.afterFns = append(f.afterFns, fn)
}

// parse parses args and runs the post-processing of list flags.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	if len(f.errs) > 0 {
		return f.errs[0]
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", f.Args())
	}
	for _, fn := range f.afterFns {
		fn()
	}
	if len(f.errs) > 0 {
		return f.errs[0]
	}
	return nil
}

// newLogger returns the process's structured logger, JSON when $RAINFLOW_LOG_FORMAT=json.
func newLogger(process string) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("RAINFLOW_LOG_LEVEL") == "debug" {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if os.Getenv("RAINFLOW_LOG_FORMAT") == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("process", process)
}
