package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/rainflow/rainflow/contract"
)

type certificateRow struct {
	ID          string    `gorm:"column:id;primaryKey"`
	TenantID    string    `gorm:"column:tenant_id"`
	Name        string    `gorm:"column:name"`
	CertPEM     string    `gorm:"column:cert_pem"`
	KeySealed   string    `gorm:"column:key_sealed"`
	Subject     string    `gorm:"column:subject"`
	Issuer      string    `gorm:"column:issuer"`
	SANs        []string  `gorm:"column:sans;serializer:json"`
	NotBefore   time.Time `gorm:"column:not_before"`
	NotAfter    time.Time `gorm:"column:not_after"`
	Fingerprint string    `gorm:"column:fingerprint"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	UpdatedAt   time.Time `gorm:"column:updated_at"`
}

func (certificateRow) TableName() string { return "certificates" }

// newCertificateRow is the row of c, without id, key or creation time; UpdatedAt is now.
func newCertificateRow(c Certificate) certificateRow {
	sans := c.SANs
	if sans == nil {
		sans = []string{}
	}
	return certificateRow{
		TenantID: c.TenantID, Name: c.Name, CertPEM: c.CertPEM, Subject: c.Subject, Issuer: c.Issuer, SANs: sans,
		NotBefore: c.NotBefore.UTC().Truncate(time.Microsecond), NotAfter: c.NotAfter.UTC().Truncate(time.Microsecond),
		Fingerprint: c.Fingerprint, UpdatedAt: now(),
	}
}

// model is the certificate without its sealed key.
func (r certificateRow) model() Certificate {
	return Certificate{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, CertPEM: r.CertPEM, Subject: r.Subject, Issuer: r.Issuer,
		SANs: r.SANs, NotBefore: r.NotBefore.UTC(), NotAfter: r.NotAfter.UTC(), Fingerprint: r.Fingerprint,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type routeRow struct {
	ID              string    `gorm:"column:id;primaryKey"`
	TenantID        string    `gorm:"column:tenant_id"`
	ComponentID     string    `gorm:"column:component_id"`
	Name            string    `gorm:"column:name"`
	Kind            string    `gorm:"column:kind"`
	Host            string    `gorm:"column:host"`
	Path            string    `gorm:"column:path"`
	PathType        string    `gorm:"column:path_type"`
	HeaderName      string    `gorm:"column:header_name"`
	HeaderValue     string    `gorm:"column:header_value"`
	CookieName      string    `gorm:"column:cookie_name"`
	CookieValue     string    `gorm:"column:cookie_value"`
	Weight          *int32    `gorm:"column:weight"`
	CertificateName *string   `gorm:"column:certificate_name"`
	ForceHTTPS      bool      `gorm:"column:force_https"`
	PortName        string    `gorm:"column:port_name"`
	Port            int32     `gorm:"column:port"`
	ListenPort      *int32    `gorm:"column:listen_port"`
	BalancePolicy   string    `gorm:"column:load_balance_policy"`
	BalanceHashBy   string    `gorm:"column:load_balance_hash_by"`
	MatchKey        *string   `gorm:"column:match_key"`
	ListenKey       *string   `gorm:"column:listen_key"`
	Version         int64     `gorm:"column:version"`
	CreatedAt       time.Time `gorm:"column:created_at"`
	UpdatedAt       time.Time `gorm:"column:updated_at"`
}

func (routeRow) TableName() string { return "routes" }

// newRouteRow is the row of r in the component, with its claims; id, version and times are left to
// the caller.
func newRouteRow(tenantID, componentID string, r contract.Route) routeRow {
	row := routeRow{
		TenantID: tenantID, ComponentID: componentID, Name: r.Name, Kind: string(r.Kind),
		Host: strings.ToLower(r.Host), Path: r.Path, PathType: r.PathType, Weight: r.Weight,
		CertificateName: nullable(r.Certificate), ForceHTTPS: r.ForceHTTPS, PortName: r.PortName, Port: r.Port,
		MatchKey: matchKey(r), ListenKey: listenKey(r),
	}
	if h := r.Header; h != nil {
		row.HeaderName, row.HeaderValue = h.Name, h.Value
	}
	if c := r.Cookie; c != nil {
		row.CookieName, row.CookieValue = c.Name, c.Value
	}
	if r.ListenPort != 0 {
		lp := r.ListenPort
		row.ListenPort = &lp
	}
	if lb := r.LoadBalance; lb != nil {
		row.BalancePolicy, row.BalanceHashBy = string(lb.Policy), lb.HashBy
	}
	return row
}

func (r routeRow) route() contract.Route {
	out := contract.Route{
		Name: r.Name, Kind: contract.RouteKind(r.Kind), Host: r.Host, Path: r.Path, PathType: r.PathType,
		Weight: r.Weight, Certificate: deref(r.CertificateName), ForceHTTPS: r.ForceHTTPS, PortName: r.PortName, Port: r.Port,
	}
	if r.HeaderName != "" {
		out.Header = &contract.RouteMatch{Name: r.HeaderName, Value: r.HeaderValue}
	}
	if r.CookieName != "" {
		out.Cookie = &contract.RouteMatch{Name: r.CookieName, Value: r.CookieValue}
	}
	if r.ListenPort != nil {
		out.ListenPort = *r.ListenPort
	}
	if r.BalancePolicy != "" {
		out.LoadBalance = &contract.RouteLoadBalance{Policy: contract.LoadBalancePolicy(r.BalancePolicy), HashBy: r.BalanceHashBy}
	}
	return out
}

func (r routeRow) model() Route {
	return Route{
		ID: r.ID, TenantID: r.TenantID, ComponentID: r.ComponentID, Route: r.route(), Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// matchKey is what an HTTP route claims in its tenant: its host, path, path type, header and cookie
// match, and whether it is a canary; nil for other kinds.
func matchKey(r contract.Route) *string {
	if r.Kind != contract.RouteHTTP {
		return nil
	}
	var b strings.Builder
	write := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
			b.WriteByte(0)
		}
	}
	write(strings.ToLower(r.Host), r.Path, r.PathType)
	if h := r.Header; h != nil {
		write("header", strings.ToLower(h.Name), h.Value)
	}
	if c := r.Cookie; c != nil {
		write("cookie", c.Name, c.Value)
	}
	if r.Weight != nil {
		write("canary")
	}
	sum := sha256.Sum256([]byte(b.String()))
	key := hex.EncodeToString(sum[:])
	return &key
}

// listenKey is the gateway port a TCP or UDP route claims over every tenant, "tcp/9000"; nil for HTTP.
func listenKey(r contract.Route) *string {
	if r.Kind != contract.RouteTCP && r.Kind != contract.RouteUDP {
		return nil
	}
	key := fmt.Sprintf("%s/%d", r.Kind, r.ListenPort)
	return &key
}
