package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/rainflow/rainflow/contract"
)

// Route is a route of a component (contract.Route), as stored.
type Route struct {
	ID          string
	TenantID    string // the component's
	ComponentID string
	contract.Route
	// Version counts the route's changes, from 1; it is the route's ETag.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RouteConflictError answers a route that claims what another route holds: the same host, path, path
// type and match (and canary or not) in the tenant, or the same gateway port over every tenant. It is
// ErrConflict.
type RouteConflictError struct {
	Route string // the route refused
	// With is the route holding the claim; nil when it is another tenant's, whose names are not told.
	With *RouteRef
	What string // what both claim
}

func (e *RouteConflictError) Error() string {
	if e.With == nil {
		return fmt.Sprintf("route %q claims %s, which a route of another tenant holds", e.Route, e.What)
	}
	return fmt.Sprintf("route %q claims %s, which route %s holds", e.Route, e.What, e.With)
}

func (e *RouteConflictError) Unwrap() error { return ErrConflict }

// CreateRoute stores a new route of the component at version 1. A route of the same name in the
// component answers ErrAlreadyExists; a claim another route holds a *RouteConflictError; an unknown
// component or certificate ErrNotFound.
func (s *Store) CreateRoute(ctx context.Context, componentID string, r contract.Route) (Route, error) {
	if componentID == "" || r.Name == "" || r.Kind == "" {
		return Route{}, fmt.Errorf("create route %q: component, name and kind are required: %w", r.Name, ErrInvalid)
	}
	var row routeRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c componentRow
		if err := tx.Where("id = ?", componentID).Take(&c).Error; err != nil {
			return fmt.Errorf("component %s: %w", componentID, translate(err))
		}
		var n int64
		if err := tx.Model(&routeRow{}).Where("component_id = ? AND name = ?", componentID, r.Name).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the component has a route of this name: %w", ErrAlreadyExists)
		}
		row = newRouteRow(c.TenantID, componentID, r)
		row.ID, row.Version = newID(), 1
		row.CreatedAt = now()
		row.UpdatedAt = row.CreatedAt
		return insertRoute(tx, row)
	})
	if err != nil {
		return Route{}, fmt.Errorf("create route %q: %w", r.Name, translate(err))
	}
	return row.model(), nil
}

// UpdateRoute replaces the route with this id if it is still at expectedVersion (its name stays), and
// answers it at the next version. A route changed since answers ErrConflict (not a
// *RouteConflictError, which answers a claim another route holds); a route gone ErrNotFound.
func (s *Store) UpdateRoute(ctx context.Context, id string, expectedVersion int64, r contract.Route) (Route, error) {
	var row routeRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur routeRow
		if err := tx.Where("id = ?", id).Take(&cur).Error; err != nil {
			return translate(err)
		}
		if cur.Version != expectedVersion {
			return fmt.Errorf("route is at version %d, not %d: %w", cur.Version, expectedVersion, ErrConflict)
		}
		r.Name = cur.Name
		row = newRouteRow(cur.TenantID, cur.ComponentID, r)
		row.ID, row.Version, row.CreatedAt, row.UpdatedAt = cur.ID, cur.Version+1, cur.CreatedAt, now()
		if err := checkRoute(tx, row); err != nil {
			return err
		}
		res := tx.Model(&routeRow{}).Where("id = ? AND version = ?", id, expectedVersion).Select("*").Updates(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("route changed meanwhile: %w", ErrConflict)
		}
		return nil
	})
	if err != nil {
		return Route{}, fmt.Errorf("update route %s: %w", id, translate(err))
	}
	return row.model(), nil
}

// GetRoute answers the component's route with this name.
func (s *Store) GetRoute(ctx context.Context, componentID, name string) (Route, error) {
	var row routeRow
	err := s.db.WithContext(ctx).Where("component_id = ? AND name = ?", componentID, name).Take(&row).Error
	if err != nil {
		return Route{}, fmt.Errorf("get route %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// ListRoutes answers one page of the component's routes ordered by name, and the next page's cursor.
func (s *Store) ListRoutes(ctx context.Context, componentID string, page Page) ([]Route, string, error) {
	q := s.db.WithContext(ctx).Model(&routeRow{}).Where("component_id = ?", componentID)
	rows, next, err := listByName(q, page, func(r routeRow) string { return r.Name })
	if err != nil {
		return nil, "", fmt.Errorf("list routes: %w", translate(err))
	}
	return models(rows, routeRow.model), next, nil
}

// ComponentRoutes answers all of the component's routes ordered by name, as a release keeps them.
func (s *Store) ComponentRoutes(ctx context.Context, componentID string) ([]contract.Route, error) {
	var rows []routeRow
	if err := s.db.WithContext(ctx).Where("component_id = ?", componentID).Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read routes of component %s: %w", componentID, translate(err))
	}
	return models(rows, routeRow.route), nil
}

// DeleteRoute deletes the component's route with this name and answers what it was.
func (s *Store) DeleteRoute(ctx context.Context, componentID, name string) (Route, error) {
	var row routeRow
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("component_id = ? AND name = ?", componentID, name).Take(&row).Error; err != nil {
			return err
		}
		return tx.Where("id = ?", row.ID).Delete(&routeRow{}).Error
	})
	if err != nil {
		return Route{}, fmt.Errorf("delete route %q: %w", name, translate(err))
	}
	return row.model(), nil
}

// ReplaceRoutes makes routes the component's routes, in one transaction (a rollback restores a
// release's routes so). Errors are CreateRoute's.
func (s *Store) ReplaceRoutes(ctx context.Context, componentID string, routes []contract.Route) error {
	return s.replaceRoutes(ctx, componentID, routes, false)
}

// CheckReplaceRoutes answers what ReplaceRoutes would, and changes nothing.
func (s *Store) CheckReplaceRoutes(ctx context.Context, componentID string, routes []contract.Route) error {
	return s.replaceRoutes(ctx, componentID, routes, true)
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

func (s *Store) replaceRoutes(ctx context.Context, componentID string, routes []contract.Route, dryRun bool) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c componentRow
		if err := tx.Where("id = ?", componentID).Take(&c).Error; err != nil {
			return fmt.Errorf("component %s: %w", componentID, translate(err))
		}
		if err := tx.Where("component_id = ?", componentID).Delete(&routeRow{}).Error; err != nil {
			return err
		}
		t := now()
		seen := map[string]bool{}
		for _, r := range routes {
			if seen[r.Name] {
				return fmt.Errorf("route %q is given twice: %w", r.Name, ErrAlreadyExists)
			}
			seen[r.Name] = true
			row := newRouteRow(c.TenantID, componentID, r)
			row.ID, row.Version, row.CreatedAt, row.UpdatedAt = newID(), 1, t, t
			if err := insertRoute(tx, row); err != nil {
				return fmt.Errorf("route %q: %w", r.Name, err)
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replace routes of component %s: %w", componentID, translate(err))
	}
	return nil
}

// insertRoute checks the row's claims and certificate and inserts it.
func insertRoute(tx *gorm.DB, row routeRow) error {
	if err := checkRoute(tx, row); err != nil {
		return err
	}
	err := tx.Create(&row).Error
	switch {
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("component %s or certificate %q: %w", row.ComponentID, deref(row.CertificateName), ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		// a concurrent write took the name or the claim between the checks and the insert
		return fmt.Errorf("a route with the same name or claim was written meanwhile: %w", ErrConflict)
	}
	return err
}

// checkRoute answers a *RouteConflictError when another route holds what the row claims, and
// ErrNotFound when its certificate is not the tenant's.
func checkRoute(tx *gorm.DB, row routeRow) error {
	if row.CertificateName != nil {
		var n int64
		if err := tx.Model(&certificateRow{}).Where("tenant_id = ? AND name = ?", row.TenantID, *row.CertificateName).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("certificate %q: %w", *row.CertificateName, ErrNotFound)
		}
	}
	if row.MatchKey != nil {
		other, found, err := claimHolder(tx, row.ID, "routes.tenant_id = ? AND routes.match_key = ?", row.TenantID, *row.MatchKey)
		if err != nil {
			return err
		}
		if found {
			what := fmt.Sprintf("host %q, %s path %q", row.Host, row.PathType, row.Path)
			if row.HeaderName != "" || row.CookieName != "" {
				what += " with the same header and cookie match"
			}
			if row.Weight != nil {
				what = "the canary of " + what
			}
			return &RouteConflictError{Route: row.Name, With: &other.RouteRef, What: what}
		}
	}
	if row.Host != "" {
		// A host belongs to one tenant: another tenant's route on it, even at another path, would take
		// part of its traffic.
		if _, found, err := claimHolder(tx, row.ID, "routes.host = ? AND routes.tenant_id <> ?", row.Host, row.TenantID); err != nil {
			return err
		} else if found {
			return &RouteConflictError{Route: row.Name, What: fmt.Sprintf("host %q", row.Host)}
		}
	}
	if row.ListenKey != nil {
		other, found, err := claimHolder(tx, row.ID, "routes.listen_key = ?", *row.ListenKey)
		if err != nil {
			return err
		}
		if found {
			e := &RouteConflictError{Route: row.Name, What: "gateway port " + *row.ListenKey}
			if other.tenantID == row.TenantID {
				e.With = &other.RouteRef
			}
			return e
		}
	}
	return nil
}

// holder is the route that holds a claim, and its tenant.
type holder struct {
	RouteRef
	tenantID string
}

type holderRow struct {
	TenantID    string
	ComponentID string
	App         string
	Component   string
	Route       string
}

// claimHolder finds the route other than id matching the condition (on routes' columns), with its names.
func claimHolder(tx *gorm.DB, id string, cond string, args ...any) (*holder, bool, error) {
	var rows []holderRow
	err := tx.Table("routes").
		Select("routes.tenant_id AS tenant_id, routes.component_id AS component_id, apps.name AS app, components.name AS component, routes.name AS route").
		Joins("JOIN components ON components.id = routes.component_id").
		Joins("JOIN apps ON apps.id = components.app_id").
		Where("routes.id <> ?", id).Where(cond, args...).Limit(1).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	r := rows[0]
	return &holder{RouteRef: RouteRef{ComponentID: r.ComponentID, App: r.App, Component: r.Component, Route: r.Route}, tenantID: r.TenantID}, true, nil
}
