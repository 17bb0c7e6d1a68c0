// Package storetest is the store's conformance suite: every database the store supports must pass it.
// store_test.go runs it against SQLite; tests/ runs it against a real MariaDB and a real PostgreSQL.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// Opener answers a migrated store for one test. Stores it answers may share one database: the suite
// names every row it creates uniquely and never assumes a table is empty.
type Opener func(t *testing.T) *store.Store

// Run runs the suite; open is called once per subtest, and subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	suites := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{name: "Migrations", run: testMigrations},
		{name: "Tenants", run: testTenants},
		{name: "TenantPagination", run: testTenantPagination},
		{name: "Apps", run: testApps},
		{name: "Components", run: testComponents},
		{name: "ComponentOptimisticConcurrency", run: testComponentConcurrency},
		{name: "ComponentDelete", run: testComponentDelete},
		{name: "Operations", run: testOperations},
		{name: "OperationIdempotencyKeys", run: testIdempotencyKeys},
		{name: "OperationPagination", run: testOperationPagination},
		{name: "OperationLists", run: testOperationLists},
		{name: "AppComponent", run: testAppComponent},
		{name: "ComponentRead", run: testComponentRead},
		{name: "Releases", run: testReleases},
		{name: "Certificates", run: testCertificates},
		{name: "Routes", run: testRoutes},
		{name: "ReleaseRoutes", run: testReleaseRoutes},
		{name: "SecretEnv", run: testSecretEnv},
		{name: "SecretEnvConcurrency", run: testSecretEnvConcurrency},
		{name: "SecretEnvGoesWithComponent", run: testSecretEnvGoesWithComponent},
		{name: "UsersAndTokens", run: testUsersAndTokens},
		{name: "Memberships", run: testMemberships},
		{name: "Audit", run: testAudit},
		{name: "TenantSettings", run: testTenantSettings},
		{name: "Versions", run: testVersions},
		{name: "PrunableVersions", run: testPrunableVersions},
		{name: "DeleteVersion", run: testDeleteVersion},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t, open)
		})
	}
}

// fixture is a tenant with one app and one component, for tests about what lives below them.
type fixture struct {
	st        *store.Store
	tenant    store.Tenant
	app       store.App
	component store.Component
}

func newFixture(t *testing.T, open Opener) fixture {
	t.Helper()
	st := open(t)
	ctx := t.Context()
	tenant, err := st.CreateTenant(ctx, store.Tenant{Name: uniq("t")})
	require.NoError(t, err)
	app, err := st.CreateApp(ctx, store.App{TenantID: tenant.ID, Name: "shop"})
	require.NoError(t, err)
	component, err := st.CreateComponent(ctx, store.Component{AppID: app.ID, Name: "web", Spec: sampleSpec()})
	require.NoError(t, err)
	return fixture{st: st, tenant: tenant, app: app, component: component}
}

// uniq answers prefix with a random suffix: a valid DNS label, unique across stores sharing a database.
func uniq(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func sampleSpec() contract.ComponentSpec {
	return contract.ComponentSpec{
		Image:    "registry.example:5000/shop/web:1.2.3",
		Replicas: 2,
		Ports:    []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}},
		Env:      []contract.EnvVar{{Name: "MODE", Value: "production"}, {Name: "EMPTY", Value: ""}},
		Command:  []string{"/bin/web"},
		Args:     []string{"--listen", ":8080"},
		Resources: contract.Resources{
			CPURequest: "100m", CPULimit: "1", MemoryRequest: "64Mi", MemoryLimit: "256Mi",
		},
		Readiness:    &contract.Probe{HTTPPath: "/healthz", Port: 8080, PeriodSeconds: 5, FailureThreshold: 3},
		Liveness:     &contract.Probe{Port: 8080},
		NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
	}
}
