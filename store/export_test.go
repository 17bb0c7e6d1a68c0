package store

import "context"

// JournalMode answers the SQLite journal mode, for the tests of the external package.
func (s *Store) JournalMode(ctx context.Context) (string, error) {
	var mode string
	err := s.db.WithContext(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error
	return mode, err
}
