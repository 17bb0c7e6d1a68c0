package collector

import (
	"errors"
	"fmt"
	"time"
)

// TailConfig sets the live tails. Zero fields take their defaults.
type TailConfig struct {
	// Buffer is how many committed lines a tail holds for its reader before it drops (and reports) the
	// following ones. Default 4096.
	Buffer int
	// PingInterval is how often a tail pings its reader to detect a dead peer. Default 30s.
	PingInterval time.Duration
	// WriteTimeout bounds one message's write and a ping's answer; a reader that keeps dropping lines
	// for longer is closed as too slow. Default 10s.
	WriteTimeout time.Duration
}

// Defaults of TailConfig.
const (
	DefaultTailBuffer       = 4096
	DefaultTailPingInterval = 30 * time.Second
	DefaultTailWriteTimeout = 10 * time.Second
)

func (c TailConfig) withDefaults() TailConfig {
	if c.Buffer == 0 {
		c.Buffer = DefaultTailBuffer
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultTailPingInterval
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultTailWriteTimeout
	}
	return c
}

func (c TailConfig) validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Buffer < 1 {
		errs = append(errs, fmt.Errorf("collector tail buffer %d is below 1", c.Buffer))
	}
	if c.PingInterval < 0 {
		errs = append(errs, fmt.Errorf("collector tail ping interval %s is negative", c.PingInterval))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("collector tail write timeout %s is negative", c.WriteTimeout))
	}
	return errors.Join(errs...)
}

// Retention bounds the streams of one kind: whole sealed segments are removed once older than MaxAge
// (by the time they were last written) or while the stream's segments take more than MaxBytes on disk.
// The active segment is never removed, so a stream may exceed MaxBytes by up to one segment.
type Retention struct {
	MaxAge   time.Duration
	MaxBytes int64
}

// RetentionConfig is the retention of each kind and how often it is applied. Zero fields take their
// defaults.
type RetentionConfig struct {
	Event, Build, Runtime, Access Retention
	// SweepInterval is how often retention runs and sealed segments are compressed (also at start and
	// soon after a segment is sealed). Default 1m; negative turns both off.
	SweepInterval time.Duration
}

// Defaults of RetentionConfig.
const (
	DefaultRetentionMaxAge   = 7 * 24 * time.Hour
	DefaultRetentionMaxBytes = 1 << 30
	DefaultSweepInterval     = time.Minute
)

func (c RetentionConfig) withDefaults() RetentionConfig {
	for _, r := range []*Retention{&c.Event, &c.Build, &c.Runtime, &c.Access} {
		if r.MaxAge == 0 {
			r.MaxAge = DefaultRetentionMaxAge
		}
		if r.MaxBytes == 0 {
			r.MaxBytes = DefaultRetentionMaxBytes
		}
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	return c
}

// of returns the retention of kind.
func (c RetentionConfig) of(kind Kind) Retention {
	switch kind {
	case KindEvent:
		return c.Event
	case KindBuild:
		return c.Build
	case KindRuntime:
		return c.Runtime
	default:
		return c.Access
	}
}

func (c RetentionConfig) validate() error {
	c = c.withDefaults()
	var errs []error
	for _, k := range []Kind{KindEvent, KindBuild, KindRuntime, KindAccess} {
		r := c.of(k)
		if r.MaxAge < time.Minute {
			errs = append(errs, fmt.Errorf("collector retention of %s max age %s is below 1m", k, r.MaxAge))
		}
		if r.MaxBytes < 4096 {
			errs = append(errs, fmt.Errorf("collector retention of %s max bytes %d is below 4096", k, r.MaxBytes))
		}
	}
	return errors.Join(errs...)
}
