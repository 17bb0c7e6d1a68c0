package store

import "context"

// SealedSecretEnv answers a secret env version's stored row as it is in the database, for the tests
// of the external package: the names column and the sealed blob.
func (s *Store) SealedSecretEnv(ctx context.Context, componentID string, version int64) (names, sealed string, err error) {
	var row struct {
		Names  string
		Sealed string
	}
	err = s.db.WithContext(ctx).Raw("SELECT names, sealed FROM component_secret_env WHERE component_id = ? AND version = ?",
		componentID, version).Scan(&row).Error
	return row.Names, row.Sealed, err
}

// OverwriteSealedSecretEnv replaces a version's sealed blob, as an attacker with write access to the
// database would.
func (s *Store) OverwriteSealedSecretEnv(ctx context.Context, componentID string, version int64, sealed string) error {
	return s.db.WithContext(ctx).Exec("UPDATE component_secret_env SET sealed = ? WHERE component_id = ? AND version = ?",
		sealed, componentID, version).Error
}
