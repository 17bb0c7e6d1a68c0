package store

import "context"

// SealedCredential answers a credential's sealed blob as it is in the database, for the tests of the
// external package.
func (s *Store) SealedCredential(ctx context.Context, tenantID, name string) (string, error) {
	var sealed string
	err := s.db.WithContext(ctx).Raw("SELECT sealed FROM source_credentials WHERE tenant_id = ? AND name = ?",
		tenantID, name).Scan(&sealed).Error
	return sealed, err
}

// OverwriteSealedCredential replaces a credential's sealed blob, as an attacker with write access to
// the database would.
func (s *Store) OverwriteSealedCredential(ctx context.Context, tenantID, name, sealed string) error {
	return s.db.WithContext(ctx).Exec("UPDATE source_credentials SET sealed = ? WHERE tenant_id = ? AND name = ?",
		sealed, tenantID, name).Error
}
