// Package collector is Rainflow's log service: it ingests operation events, build output, runtime output
// and access logs as NDJSON, stores each stream in append-only segment files on its disk, acknowledges a
// request only once its lines are fsync'd (group commit), and serves the lines back in order, paginated.
//
// Write path: ingest.go validates and encodes a whole request, commit.go writes the records of every
// request waiting in one cycle and fsyncs each touched file once, then acknowledges them all. Storage:
// stream.go and segment.go (one directory per stream, one file per segment, CRC'd length-prefixed
// records, torn tail truncated on open). Read path: query.go and read.go. The live tail (a later issue)
// plugs into the committer's commit listener.
package collector

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is what the collector process needs. Zero fields take their defaults.
type Config struct {
	// Listen is the HTTP address of the ingest and read API. Default 127.0.0.1:7482.
	Listen string
	// DataDir holds the streams' segment files; required (e.g. .rainflow/collector). One collector
	// at a time may use it.
	DataDir string
	// MaxLineBytes bounds one NDJSON line of an ingest request. Default 64 KiB.
	MaxLineBytes int
	// MaxBatchBytes bounds one ingest request's body (after gzip decoding) and the records one group
	// commit writes. Default 8 MiB.
	MaxBatchBytes int
	// SyncInterval is the group commit period: requests arriving within it share one write and one fsync
	// per touched file. Default 5ms.
	SyncInterval time.Duration
	// SegmentBytes is the size past which a stream's active segment is sealed and a new one started.
	// Default 64 MiB.
	SegmentBytes int64
	// IdleClose is how long a stream stays open (its active segment's file descriptor) without writes.
	// Default 5m.
	IdleClose time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight requests once its context is done.
	// Default 10s.
	ShutdownTimeout time.Duration
	// Tail sets the live tails' buffers and timeouts (config_tail.go).
	Tail TailConfig
	// Retention bounds each stream's age and size, per kind (config_tail.go).
	Retention RetentionConfig

	// Partitioning, forwarding and runtime following: see partition.go, forward.go and follow.go.
	Partition
}

// Defaults of Config.
const (
	DefaultListen          = "127.0.0.1:7482"
	DefaultMaxLineBytes    = 64 << 10
	DefaultMaxBatchBytes   = 8 << 20
	DefaultSyncInterval    = 5 * time.Millisecond
	DefaultSegmentBytes    = 64 << 20
	DefaultIdleClose       = 5 * time.Minute
	DefaultShutdownTimeout = 10 * time.Second
	DefaultForwardTimeout  = 10 * time.Second
	DefaultFollowFlush     = 100 * time.Millisecond
	DefaultHandoverTimeout = 10 * time.Second
)

// withDefaults returns the config with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.IdleClose == 0 {
		c.IdleClose = DefaultIdleClose
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	c.Tail, c.Retention = c.Tail.withDefaults(), c.Retention.withDefaults()
	return c
}

// Validate says what is wrong with the config, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("collector listen address %q: %w", c.Listen, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("collector data dir is empty"))
	}
	if c.MaxLineBytes < 256 || c.MaxLineBytes > maxRecordBytes/2 {
		errs = append(errs, fmt.Errorf("collector max line bytes %d is not between 256 and %d", c.MaxLineBytes, maxRecordBytes/2))
	}
	if c.MaxBatchBytes < c.MaxLineBytes {
		errs = append(errs, fmt.Errorf("collector max batch bytes %d is below max line bytes %d", c.MaxBatchBytes, c.MaxLineBytes))
	}
	if c.SyncInterval < 0 {
		errs = append(errs, fmt.Errorf("collector sync interval %s is negative", c.SyncInterval))
	}
	if c.SegmentBytes < 4096 {
		errs = append(errs, fmt.Errorf("collector segment bytes %d is below 4096", c.SegmentBytes))
	}
	if c.IdleClose < 0 {
		errs = append(errs, fmt.Errorf("collector idle close %s is negative", c.IdleClose))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("collector shutdown timeout %s is negative", c.ShutdownTimeout))
	}
	errs = append(errs, c.Tail.validate(), c.Retention.validate())
	errs = append(errs, c.Partition.validate())
	return errors.Join(errs...)
}
