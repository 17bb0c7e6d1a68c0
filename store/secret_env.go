package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/rainflow/rainflow/seal"
)

// SecretEnv is one version of a component's secret environment variables, as anyone may see it: the
// names, never the values. Versions are immutable and numbered from 1; every change is a new version.
// The values are sealed together, bound to their row (see secretEnvAD), and only OpenSecretEnv opens
// them.
type SecretEnv struct {
	ComponentID string
	// Version is 0 for a component that never had secret env (then Names is empty).
	Version   int64
	Names     []string // sorted
	CreatedAt time.Time
	CreatedBy string
}

// AnyVersion, as SetSecretEnv's expectedVersion, writes whatever the latest version is.
const AnyVersion int64 = -1

type secretEnvRow struct {
	ComponentID string    `gorm:"column:component_id;primaryKey"`
	Version     int64     `gorm:"column:version;primaryKey"`
	Names       []string  `gorm:"column:names;serializer:json"`
	Sealed      string    `gorm:"column:sealed"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	CreatedBy   string    `gorm:"column:created_by"`
}

func (secretEnvRow) TableName() string { return "component_secret_env" }

func (r secretEnvRow) model() SecretEnv {
	names := r.Names
	if names == nil {
		names = []string{}
	}
	return SecretEnv{ComponentID: r.ComponentID, Version: r.Version, Names: names, CreatedAt: r.CreatedAt.UTC(), CreatedBy: r.CreatedBy}
}

// secretEnvAD is the additional data a version's values are sealed with: a sealed blob copied into
// another component's row, or another version's, does not open.
func secretEnvAD(componentID string, version int64) string {
	return "component-secret-env/" + componentID + "/" + strconv.FormatInt(version, 10)
}

// GetSecretEnv answers the names of the component's latest secret env version; a component without
// any answers Version 0 and no names (whether the component exists is not checked).
func (s *Store) GetSecretEnv(ctx context.Context, componentID string) (SecretEnv, error) {
	// the names only: the sealed values are not read where they are not needed
	row, found, err := latestSecretEnv(s.db.WithContext(ctx).Select("component_id", "version", "names", "created_at", "created_by"), componentID)
	if err != nil {
		return SecretEnv{}, fmt.Errorf("get secret env of component %s: %w", componentID, translate(err))
	}
	if !found {
		return SecretEnv{ComponentID: componentID, Names: []string{}}, nil
	}
	return row.model(), nil
}

// OpenSecretEnv answers the values of one version of the component's secret env, name → value.
// Version 0 answers an empty map. A version the component does not have answers ErrNotFound; a store
// without a keyring answers ErrNoKeyring; a value sealed with a key the keyring lacks answers
// seal.ErrUnknownKey. Errors never hold a value.
func (s *Store) OpenSecretEnv(ctx context.Context, componentID string, version int64) (map[string]string, error) {
	if version == 0 {
		return map[string]string{}, nil
	}
	if s.cfg.Keyring == nil {
		return nil, fmt.Errorf("open secret env %d of component %s: %w", version, componentID, ErrNoKeyring)
	}
	var row secretEnvRow
	err := s.db.WithContext(ctx).Where("component_id = ? AND version = ?", componentID, version).Take(&row).Error
	if err != nil {
		return nil, fmt.Errorf("open secret env %d of component %s: %w", version, componentID, translate(err))
	}
	return s.openSecretEnvRow(row)
}

func (s *Store) openSecretEnvRow(row secretEnvRow) (map[string]string, error) {
	plain, err := s.openSecret(row.Sealed, secretEnvAD(row.ComponentID, row.Version))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	if err := json.Unmarshal(plain, &env); err != nil {
		// the error of encoding/json may quote the text: say only that it is not a map
		return nil, fmt.Errorf("open secret env %d of component %s: the opened values are not a JSON object", row.Version, row.ComponentID)
	}
	return env, nil
}

// SetSecretEnv stores env (name → value, the whole set) as the component's next secret env version,
// created by by, if its latest version is still expectedVersion (0 for none; AnyVersion for whatever
// it is), and answers it with changed true. When env holds exactly the latest version's variables,
// nothing is written: it answers the latest version with changed false. A latest version other than
// expectedVersion answers ErrConflict; an unknown component ErrNotFound; an empty name ErrInvalid; a
// store without a keyring ErrNoKeyring. A latest version the keyring cannot open (its key was dropped)
// is replaced, so that new values can always be set.
func (s *Store) SetSecretEnv(ctx context.Context, componentID string, expectedVersion int64, env map[string]string, by string) (SecretEnv, bool, error) {
	if componentID == "" {
		return SecretEnv{}, false, fmt.Errorf("set secret env: the component is required: %w", ErrInvalid)
	}
	if _, empty := env[""]; empty {
		return SecretEnv{}, false, fmt.Errorf("set secret env of component %s: a name is empty: %w", componentID, ErrInvalid)
	}
	if s.cfg.Keyring == nil {
		return SecretEnv{}, false, fmt.Errorf("set secret env of component %s: %w", componentID, ErrNoKeyring)
	}
	if env == nil {
		env = map[string]string{}
	}
	plain, err := json.Marshal(env) // keys sorted
	if err != nil {
		return SecretEnv{}, false, fmt.Errorf("set secret env of component %s: encode: %w", componentID, err)
	}
	var out secretEnvRow
	changed := true
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		latest, found, err := latestSecretEnv(tx, componentID)
		if err != nil {
			return err
		}
		if expectedVersion != AnyVersion && latest.Version != expectedVersion {
			return fmt.Errorf("its secret env is at version %d, not %d: %w", latest.Version, expectedVersion, ErrConflict)
		}
		if found {
			current, err := s.openSecretEnvRow(latest)
			switch {
			case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
				// sealed with a key that is gone: the new values replace what cannot be read
			case err != nil:
				return err
			case maps.Equal(current, env):
				out, changed = latest, false
				return nil
			}
		} else if len(env) == 0 {
			var n int64
			if err := tx.Model(&componentRow{}).Where("id = ?", componentID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
			out, changed = secretEnvRow{ComponentID: componentID}, false
			return nil
		}
		version := latest.Version + 1
		sealed, err := s.sealSecret(plain, secretEnvAD(componentID, version))
		if err != nil {
			return err
		}
		names := slices.Sorted(maps.Keys(env))
		if names == nil {
			names = []string{} // [], not null
		}
		out = secretEnvRow{
			ComponentID: componentID, Version: version, Names: names,
			Sealed: sealed, CreatedAt: now(), CreatedBy: by,
		}
		return tx.Create(&out).Error
	})
	switch {
	case err == nil:
		return out.model(), changed, nil
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return SecretEnv{}, false, fmt.Errorf("set secret env of component %s: %w", componentID, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		// another writer took the next version between our read and our insert (MySQL)
		return SecretEnv{}, false, fmt.Errorf("set secret env of component %s: written concurrently: %w", componentID, ErrConflict)
	}
	return SecretEnv{}, false, fmt.Errorf("set secret env of component %s: %w", componentID, translate(err))
}

// latestSecretEnv reads the component's newest secret env row, if any.
func latestSecretEnv(db *gorm.DB, componentID string) (secretEnvRow, bool, error) {
	var rows []secretEnvRow
	if err := db.Where("component_id = ?", componentID).Order("version DESC").Limit(1).Find(&rows).Error; err != nil {
		return secretEnvRow{}, false, err
	}
	if len(rows) == 0 {
		return secretEnvRow{}, false, nil
	}
	return rows[0], true, nil
}
