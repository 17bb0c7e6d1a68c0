package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// certificate is a certificate of the fixture's tenant; the store keeps what it is given, so the PEM
// need not parse.
func (f fixture) certificate(name string, sans ...string) store.Certificate {
	return store.Certificate{
		TenantID: f.tenant.ID, Name: name, CertPEM: "-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n",
		Subject: "CN=" + sans[0], Issuer: "CN=test CA", SANs: sans,
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		Fingerprint: sha(name),
	}
}

func httpRoute(name, host string) contract.Route {
	return contract.Route{Name: name, Kind: contract.RouteHTTP, Host: host, Path: "/", PathType: contract.PathPrefix, PortName: "http", Port: 8080}
}

// listenPort is a random gateway port, so that runs sharing a database do not claim the same one.
func listenPort(t *testing.T) int32 {
	n, err := rand.Int(rand.Reader, big.NewInt(50000))
	require.NoError(t, err)
	return int32(10000 + n.Int64())
}

func testCertificates(t *testing.T, open Opener) {
	ex := uniq("ex") + ".example.com" // this test's own hosts: a host belongs to one tenant, and tests share databases
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	key := []byte("-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n")

	in := f.certificate("shop-tls", "shop."+ex, "*.shop."+ex)
	c, err := st.CreateCertificate(ctx, in, key)
	require.NoError(t, err)
	require.NotEmpty(t, c.ID)
	require.False(t, c.CreatedAt.IsZero())
	want := in
	want.ID, want.CreatedAt, want.UpdatedAt = c.ID, c.CreatedAt, c.UpdatedAt
	require.Equal(t, want, c)

	got, err := st.GetCertificate(ctx, f.tenant.ID, "shop-tls")
	require.NoError(t, err)
	require.Equal(t, c, got, "reads back exactly, without the key")
	withKey, opened, err := st.CertificateKey(ctx, f.tenant.ID, "shop-tls")
	require.NoError(t, err)
	require.Equal(t, c, withKey)
	require.Equal(t, key, opened, "the key opens as written")

	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{name: "duplicate name", want: store.ErrAlreadyExists, do: func() error {
			_, err := st.CreateCertificate(ctx, in, key)
			return err
		}},
		{name: "unknown tenant", want: store.ErrNotFound, do: func() error {
			other := in
			other.TenantID = "00000000-0000-0000-0000-000000000000"
			_, err := st.CreateCertificate(ctx, other, key)
			return err
		}},
		{name: "no key", want: store.ErrInvalid, do: func() error {
			_, err := st.CreateCertificate(ctx, f.certificate("nokey", "a."+ex), nil)
			return err
		}},
		{name: "get unknown", want: store.ErrNotFound, do: func() error {
			_, err := st.GetCertificate(ctx, f.tenant.ID, "nothing")
			return err
		}},
		{name: "replace unknown", want: store.ErrNotFound, do: func() error {
			_, err := st.ReplaceCertificate(ctx, f.certificate("nothing", "a."+ex), key)
			return err
		}},
		{name: "delete unknown", want: store.ErrNotFound, do: func() error {
			return st.DeleteCertificate(ctx, f.tenant.ID, "nothing")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.do(), tt.want)
		})
	}

	t.Run("replace renews chain and key", func(t *testing.T) {
		renewed := f.certificate("shop-tls", "shop."+ex)
		renewed.NotAfter = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
		newKey := []byte("renewed-key")
		r, err := st.ReplaceCertificate(ctx, renewed, newKey)
		require.NoError(t, err)
		require.Equal(t, c.ID, r.ID)
		require.Equal(t, c.CreatedAt, r.CreatedAt)
		require.Equal(t, []string{"shop." + ex}, r.SANs)
		require.Equal(t, renewed.NotAfter, r.NotAfter)
		_, opened, err := st.CertificateKey(ctx, f.tenant.ID, "shop-tls")
		require.NoError(t, err)
		require.Equal(t, newKey, opened)
	})

	t.Run("list by name", func(t *testing.T) {
		for _, name := range []string{"b-cert", "a-cert"} {
			_, err := st.CreateCertificate(ctx, f.certificate(name, name+"."+ex), key)
			require.NoError(t, err)
		}
		var names []string
		cursor := ""
		for {
			page, next, err := st.ListCertificates(ctx, f.tenant.ID, store.Page{Limit: 2, Cursor: cursor})
			require.NoError(t, err)
			for _, c := range page {
				names = append(names, c.Name)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		require.Equal(t, []string{"a-cert", "b-cert", "shop-tls"}, names)
	})

	t.Run("a certificate in use is not deleted", func(t *testing.T) {
		r := httpRoute("secure", "shop."+ex)
		r.Certificate = "shop-tls"
		_, err := st.CreateRoute(ctx, f.component.ID, r)
		require.NoError(t, err)
		users, err := st.RoutesUsingCertificate(ctx, f.tenant.ID, "shop-tls")
		require.NoError(t, err)
		require.Equal(t, []store.RouteRef{{ComponentID: f.component.ID, App: "shop", Component: "web", Route: "secure"}}, users)

		err = st.DeleteCertificate(ctx, f.tenant.ID, "shop-tls")
		require.ErrorIs(t, err, store.ErrNotEmpty)
		var inUse *store.CertificateInUseError
		require.ErrorAs(t, err, &inUse)
		require.Equal(t, users, inUse.Routes)
		require.ErrorContains(t, err, "shop/web/secure")

		_, err = st.DeleteRoute(ctx, f.component.ID, "secure")
		require.NoError(t, err)
		require.NoError(t, st.DeleteCertificate(ctx, f.tenant.ID, "shop-tls"))
		_, err = st.GetCertificate(ctx, f.tenant.ID, "shop-tls")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func testRoutes(t *testing.T, open Opener) {
	ex := uniq("ex") + ".example.com" // this test's own hosts: a host belongs to one tenant, and tests share databases
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	_, err := st.CreateCertificate(ctx, f.certificate("tls", "shop."+ex), []byte("key"))
	require.NoError(t, err)
	api, err := st.CreateComponent(ctx, store.Component{AppID: f.app.ID, Name: "api", Spec: sampleSpec()})
	require.NoError(t, err)

	weight := int32(20)
	web := httpRoute("web", "Shop."+strings.ToUpper(ex))
	web.Path, web.PathType = "/shop", contract.PathExact
	web.Header = &contract.RouteMatch{Name: "X-Beta", Value: "1"}
	web.Cookie = &contract.RouteMatch{Name: "beta", Value: "yes"}
	web.Certificate, web.ForceHTTPS = "tls", true
	web.LoadBalance = &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: "header:X-User"}
	r, err := st.CreateRoute(ctx, f.component.ID, web)
	require.NoError(t, err)
	require.Equal(t, int64(1), r.Version)
	require.Equal(t, f.tenant.ID, r.TenantID)
	web.Host = "shop." + ex
	require.Equal(t, web, r.Route, "reads back as written, the host lower case")

	got, err := st.GetRoute(ctx, f.component.ID, "web")
	require.NoError(t, err)
	require.Equal(t, r, got)

	other, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("t")})
	require.NoError(t, err)
	otherApp, err := st.CreateApp(ctx, store.App{TenantID: other.ID, Name: "shop"})
	require.NoError(t, err)
	otherWeb, err := st.CreateComponent(ctx, store.Component{AppID: otherApp.ID, Name: "web", Spec: sampleSpec()})
	require.NoError(t, err)

	port := listenPort(t)
	tcp := contract.Route{Name: "db", Kind: contract.RouteTCP, PortName: "http", Port: 8080, ListenPort: port,
		LoadBalance: &contract.RouteLoadBalance{Policy: contract.LoadBalanceLeastConnections}}
	_, err = st.CreateRoute(ctx, f.component.ID, tcp)
	require.NoError(t, err)

	canary := web
	canary.Name, canary.Weight = "canary", &weight
	_, err = st.CreateRoute(ctx, api.ID, canary)
	require.NoError(t, err, "a canary of the same match is not a conflict")

	elsewhere := web
	elsewhere.Certificate, elsewhere.ForceHTTPS = "", false
	elsewhere.Path = "/admin" // even another path: the host is the first tenant's
	_, err = st.CreateRoute(ctx, otherWeb.ID, elsewhere)
	var taken *store.RouteConflictError
	require.ErrorAs(t, err, &taken, "a host belongs to one tenant")
	require.Nil(t, taken.With, "another tenant's route is not named")
	require.Contains(t, taken.Error(), fmt.Sprintf(`host %q, which a route of another tenant holds`, "shop."+ex))
	_, err = st.CreateRoute(ctx, otherWeb.ID, httpRoute("own", "globex."+ex))
	require.NoError(t, err)

	tests := []struct {
		name     string
		route    contract.Route
		in       string // component id
		want     error
		conflict *store.RouteRef // the route named as holding the claim
	}{
		{name: "duplicate name", in: f.component.ID, want: store.ErrAlreadyExists, route: httpRoute("web", "other."+ex)},
		{name: "same claim in another component", in: api.ID, want: store.ErrConflict, route: func() contract.Route {
			c := web
			c.Name, c.Host = "copy", "SHOP."+ex
			return c
		}(), conflict: &store.RouteRef{ComponentID: f.component.ID, App: "shop", Component: "web", Route: "web"}},
		{name: "second canary", in: f.component.ID, want: store.ErrConflict, route: func() contract.Route {
			c := canary
			c.Name = "canary2"
			return c
		}(), conflict: &store.RouteRef{ComponentID: api.ID, App: "shop", Component: "api", Route: "canary"}},
		{name: "gateway port of another tenant", in: otherWeb.ID, want: store.ErrConflict, route: func() contract.Route {
			c := tcp
			c.Name = "db2"
			return c
		}()},
		{name: "unknown certificate", in: api.ID, want: store.ErrNotFound, route: func() contract.Route {
			c := httpRoute("tls2", "x."+ex)
			c.Certificate = "nothing"
			return c
		}()},
		{name: "certificate of another tenant", in: otherWeb.ID, want: store.ErrNotFound, route: func() contract.Route {
			c := httpRoute("tls3", "y."+ex)
			c.Certificate = "tls"
			return c
		}()},
		{name: "unknown component", in: "00000000-0000-0000-0000-000000000000", want: store.ErrNotFound, route: httpRoute("z", "z."+ex)},
		{name: "no name", in: api.ID, want: store.ErrInvalid, route: httpRoute("", "z."+ex)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.CreateRoute(ctx, tt.in, tt.route)
			require.ErrorIs(t, err, tt.want)
			if tt.want == store.ErrConflict {
				var c *store.RouteConflictError
				require.ErrorAs(t, err, &c)
				require.Equal(t, tt.conflict, c.With)
			}
		})
	}

	t.Run("same route, other path", func(t *testing.T) {
		c := web
		c.Name, c.Path = "other-path", "/other"
		_, err := st.CreateRoute(ctx, api.ID, c)
		require.NoError(t, err)
	})

	t.Run("update", func(t *testing.T) {
		changed := tcp
		changed.ListenPort = port + 1
		_, err := st.UpdateRoute(ctx, r.ID, 1, changed)
		require.NoError(t, err, "an HTTP route may become a TCP one")
		got, err := st.GetRoute(ctx, f.component.ID, "web")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, contract.RouteTCP, got.Kind)
		require.Equal(t, port+1, got.ListenPort)
		require.Equal(t, tcp.LoadBalance, got.LoadBalance, "the policy changes with the route")

		_, err = st.UpdateRoute(ctx, r.ID, 1, web)
		require.ErrorIs(t, err, store.ErrConflict)
		var c *store.RouteConflictError
		require.False(t, errors.As(err, &c), "a stale version is not a claim conflict")

		_, err = st.UpdateRoute(ctx, r.ID, 2, tcp)
		require.ErrorAs(t, err, &c, "the port route db holds")
		require.Equal(t, "db", c.With.Route)

		back, err := st.UpdateRoute(ctx, r.ID, 2, web)
		require.NoError(t, err)
		require.Equal(t, int64(3), back.Version)
		require.Equal(t, "web", back.Name)
		plain := web
		plain.LoadBalance = nil
		cleared, err := st.UpdateRoute(ctx, r.ID, 3, plain)
		require.NoError(t, err)
		require.Nil(t, cleared.LoadBalance, "a policy taken off reads back as none")
		_, err = st.UpdateRoute(ctx, r.ID, 4, web)
		require.NoError(t, err)
		_, err = st.UpdateRoute(ctx, "00000000-0000-0000-0000-000000000000", 1, web)
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("list and all", func(t *testing.T) {
		var names []string
		cursor := ""
		for {
			page, next, err := st.ListRoutes(ctx, f.component.ID, store.Page{Limit: 1, Cursor: cursor})
			require.NoError(t, err)
			for _, r := range page {
				names = append(names, r.Name)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		require.Equal(t, []string{"db", "web"}, names)
		all, err := st.ComponentRoutes(ctx, f.component.ID)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "db", all[0].Name)
		require.Equal(t, web, all[1])
	})

	t.Run("replace", func(t *testing.T) {
		before, err := st.ComponentRoutes(ctx, f.component.ID)
		require.NoError(t, err)
		taken := []contract.Route{httpRoute("a", "free."+ex), canary}
		err = st.CheckReplaceRoutes(ctx, f.component.ID, taken)
		require.ErrorIs(t, err, store.ErrConflict, "the canary route of api holds it")
		err = st.ReplaceRoutes(ctx, f.component.ID, taken)
		require.ErrorIs(t, err, store.ErrConflict)
		after, err := st.ComponentRoutes(ctx, f.component.ID)
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused replace changes nothing")

		free := []contract.Route{httpRoute("a", "free."+ex), web}
		require.NoError(t, st.CheckReplaceRoutes(ctx, f.component.ID, free))
		after, err = st.ComponentRoutes(ctx, f.component.ID)
		require.NoError(t, err)
		require.Equal(t, before, after, "a check changes nothing")
		require.NoError(t, st.ReplaceRoutes(ctx, f.component.ID, free))
		after, err = st.ComponentRoutes(ctx, f.component.ID)
		require.NoError(t, err)
		require.Equal(t, free, after)
		require.NoError(t, st.ReplaceRoutes(ctx, f.component.ID, nil))
		after, err = st.ComponentRoutes(ctx, f.component.ID)
		require.NoError(t, err)
		require.Empty(t, after)
	})

	t.Run("delete", func(t *testing.T) {
		_, err := st.CreateRoute(ctx, f.component.ID, web)
		require.NoError(t, err)
		gone, err := st.DeleteRoute(ctx, f.component.ID, "web")
		require.NoError(t, err)
		require.Equal(t, web, gone.Route)
		_, err = st.DeleteRoute(ctx, f.component.ID, "web")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = st.CreateRoute(ctx, f.component.ID, web)
		require.NoError(t, err, "the claim is free again")
	})

	t.Run("routes go with their component", func(t *testing.T) {
		require.NoError(t, st.DeleteComponent(ctx, api.ID))
		all, err := st.ComponentRoutes(ctx, api.ID)
		require.NoError(t, err)
		require.Empty(t, all)
		c := canary
		c.Name = "canary-again"
		_, err = st.CreateRoute(ctx, f.component.ID, c)
		require.NoError(t, err, "the deleted component's claims are free")
	})
}

// testReleaseRoutes: a release keeps the routes it ran with.
func testReleaseRoutes(t *testing.T, open Opener) {
	ex := uniq("ex") + ".example.com" // this test's own hosts: a host belongs to one tenant, and tests share databases
	f := newFixture(t, open)
	st, ctx := f.st, t.Context()
	op, err := st.CreateOperation(ctx, deployOp(f, ""))
	require.NoError(t, err)
	weight := int32(5)
	routes := []contract.Route{
		{Name: "a", Kind: contract.RouteHTTP, Host: "a." + ex, Path: "/", PathType: contract.PathPrefix, Port: 8080, Weight: &weight,
			Header: &contract.RouteMatch{Name: "X-A", Value: "1"}},
		{Name: "b", Kind: contract.RouteUDP, PortName: "dns", Port: 53, ListenPort: 5353,
			LoadBalance: &contract.RouteLoadBalance{Policy: contract.LoadBalanceConsistentHash, HashBy: contract.HashByClientIP}},
	}
	for _, tt := range []struct {
		name   string
		routes []contract.Route
	}{{name: "with routes", routes: routes}, {name: "without", routes: nil}} {
		t.Run(tt.name, func(t *testing.T) {
			rel, err := st.RecordRelease(ctx, store.Release{
				ID: uniq("rel"), ComponentID: f.component.ID, OperationID: op.ID,
				ImageDigest: "registry.example:5000/shop/web@sha256:" + sha("1"), Spec: f.component.Spec, Routes: tt.routes,
			})
			require.NoError(t, err)
			got, err := st.GetRelease(ctx, rel.ID)
			require.NoError(t, err)
			require.Equal(t, tt.routes, got.Routes)
		})
	}
}
