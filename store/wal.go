package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// enableWAL switches the SQLite file to write-ahead logging, which lets readers go on while one
// writer writes. The mode is stored in the file, so this runs once per Open. Processes opening a new
// file together can get SQLITE_BUSY at once (SQLite does not wait on a journal mode change), so it
// retries until the busy timeout.
func (s *Store) enableWAL(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.BusyTimeout)
	for attempt := 1; ; attempt++ {
		var mode string
		err := s.db.WithContext(ctx).Raw("PRAGMA journal_mode=WAL").Scan(&mode).Error
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("enable WAL: the database stays in journal mode %q", mode)
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("enable WAL: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("enable WAL: %w", ctx.Err())
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// isBusy: SQLite answered SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "SQLITE_LOCKED") || strings.Contains(msg, "database is locked")
}
