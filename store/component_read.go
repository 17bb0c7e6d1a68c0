package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ComponentRead is everything a read of a component through the API needs: the tenant, the caller's
// role in it, the app, the component, and the names of its latest secret env (never the values).
type ComponentRead struct {
	Tenant Tenant
	// Role is the user's role in the tenant: "" when the user is no member (or no user was given).
	Role string
	// App and Component are zero when HasApp or HasComponent is false; a caller that has not checked
	// Role must say nothing about them (whether they exist is the tenant's business).
	App          App
	HasApp       bool
	Component    Component
	HasComponent bool
	// SecretEnv is the latest secret env version's names; Version 0 and no names for a component
	// without any.
	SecretEnv SecretEnv
}

// componentReadSQL reads ComponentRead in one statement, placeholders in the order user, app,
// component, tenant. Every join is on a unique key: tenants by name, memberships by (tenant, user),
// apps by (tenant, name), components by (app, name), secret env by (component, latest version).
const componentReadSQL = `SELECT t.id, t.name, t.display_name, t.created_at, t.settings, m.role,
	a.id, a.name, a.created_at,
	c.id, c.name, c.spec, c.version, c.created_at, c.updated_at,
	se.version, se.names, se.created_at, se.created_by
FROM tenants t
LEFT JOIN memberships m ON m.tenant_id = t.id AND m.user_id = ?
LEFT JOIN apps a ON a.tenant_id = t.id AND a.name = ?
LEFT JOIN components c ON c.app_id = a.id AND c.name = ?
LEFT JOIN component_secret_env se ON se.component_id = c.id
	AND se.version = (SELECT MAX(v.version) FROM component_secret_env v WHERE v.component_id = c.id)
WHERE t.name = ?`

// componentReadPostgres is componentReadSQL with PostgreSQL's numbered placeholders.
var componentReadPostgres = numberPlaceholders(componentReadSQL)

// ReadComponent answers, in one query, the tenant of this name with the user's role in it, its app and
// the app's component of these names, and the component's secret env names: the API's component read,
// which would otherwise ask the database three times. An unknown tenant answers ErrNotFound; an
// unknown app or component answers HasApp or HasComponent false. The statement is prepared once per
// connection (prepareReads) and scanned by hand, without gorm's reflection.
func (s *Store) ReadComponent(ctx context.Context, tenant, userID, app, component string) (ComponentRead, error) {
	start := time.Now()
	rows, err := s.componentRead.QueryContext(ctx, userID, app, component, tenant)
	if err != nil {
		return ComponentRead{}, fmt.Errorf("read component %q of app %q in tenant %q: %w", component, app, tenant, err)
	}
	out, err := scanComponentRead(rows)
	if closeErr := rows.Close(); err == nil {
		err = closeErr
	}
	if elapsed := time.Since(start); elapsed > s.cfg.SlowQuery {
		s.cfg.Logger.WarnContext(ctx, "slow sql", "elapsed", elapsed, "sql", componentReadSQL)
	}
	if err != nil {
		return ComponentRead{}, fmt.Errorf("read component %q of app %q in tenant %q: %w", component, app, tenant, err)
	}
	return out, nil
}

// scanComponentRead scans the one row of componentReadSQL; no row is ErrNotFound (no such tenant).
func scanComponentRead(rows *sql.Rows) (ComponentRead, error) {
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return ComponentRead{}, err
		}
		return ComponentRead{}, ErrNotFound
	}
	var (
		t                  tenantRow
		settings           sql.RawBytes
		role               sql.NullString
		appID, appName     sql.NullString
		appCreated         sql.NullTime
		cID, cName         sql.NullString
		spec               sql.RawBytes
		cVersion           sql.NullInt64
		cCreated, cUpdated sql.NullTime
		seVersion          sql.NullInt64
		seNames            sql.RawBytes
		seCreated          sql.NullTime
		seCreatedBy        sql.NullString
	)
	err := rows.Scan(&t.ID, &t.Name, &t.DisplayName, &t.CreatedAt, &settings, &role,
		&appID, &appName, &appCreated,
		&cID, &cName, &spec, &cVersion, &cCreated, &cUpdated,
		&seVersion, &seNames, &seCreated, &seCreatedBy)
	if err != nil {
		return ComponentRead{}, err
	}
	// the columns are decoded as gorm's json serializer decodes them: empty or NULL is none
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &t.Settings); err != nil {
			return ComponentRead{}, fmt.Errorf("decode settings of tenant %q: %w", t.Name, err)
		}
	}
	out := ComponentRead{Tenant: t.model(), Role: role.String}
	if !appID.Valid {
		return out, nil
	}
	out.App, out.HasApp = appRow{ID: appID.String, TenantID: t.ID, Name: appName.String, CreatedAt: appCreated.Time}.model(), true
	if !cID.Valid {
		return out, nil
	}
	c := componentRow{ID: cID.String, TenantID: t.ID, AppID: appID.String, Name: cName.String, Version: cVersion.Int64,
		CreatedAt: cCreated.Time, UpdatedAt: cUpdated.Time}
	if len(spec) > 0 {
		if err := json.Unmarshal(spec, &c.Spec); err != nil {
			return ComponentRead{}, fmt.Errorf("decode spec of component %q: %w", c.Name, err)
		}
	}
	out.Component, out.HasComponent = c.model(), true
	se := secretEnvRow{ComponentID: c.ID}
	if seVersion.Valid {
		se.Version, se.CreatedAt, se.CreatedBy = seVersion.Int64, seCreated.Time, seCreatedBy.String
		if len(seNames) > 0 {
			if err := json.Unmarshal(seNames, &se.Names); err != nil {
				return ComponentRead{}, fmt.Errorf("decode secret env names of component %q: %w", c.Name, err)
			}
		}
	}
	out.SecretEnv = se.model()
	return out, nil
}

// prepareReads prepares the statements of the hot reads on the pool: database/sql prepares each again
// on every connection that runs it, once. SQLite then skips parsing and planning it at every read,
// MySQL and MariaDB too (one COM_STMT_EXECUTE a read, answered in the binary protocol), PostgreSQL runs
// it as a named statement.
func (s *Store) prepareReads(ctx context.Context, db *sql.DB) error {
	query := componentReadSQL
	if s.driver == DriverPostgres {
		query = componentReadPostgres
	}
	stmt, err := db.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare the component read: %w", err)
	}
	s.componentRead = stmt
	return nil
}

// numberPlaceholders rewrites a statement's ? placeholders as PostgreSQL's $1, $2, ... (the statement
// has no ? inside a string literal).
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
