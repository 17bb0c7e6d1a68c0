package activities

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

const testKey = "-----BEGIN PRIVATE KEY-----\nkey-bytes-never-to-be-seen\n-----END PRIVATE KEY-----\n"

// fakeRouteStore knows tenant acme and its certificates; err, when set, answers every key read.
type fakeRouteStore struct {
	certs map[string]string // name -> chain
	err   error
	reads int
}

func (f *fakeRouteStore) GetTenant(_ context.Context, name string) (store.Tenant, error) {
	if name != "acme" {
		return store.Tenant{}, fmt.Errorf("get tenant %q: %w", name, store.ErrNotFound)
	}
	return store.Tenant{ID: "t-1", Name: name}, nil
}

func (f *fakeRouteStore) CertificateKey(_ context.Context, tenantID, name string) (store.Certificate, []byte, error) {
	f.reads++
	if f.err != nil {
		return store.Certificate{}, nil, f.err
	}
	chain, ok := f.certs[name]
	if tenantID != "t-1" || !ok {
		return store.Certificate{}, nil, fmt.Errorf("read key of certificate %q: %w", name, store.ErrNotFound)
	}
	return store.Certificate{Name: name, CertPEM: chain}, []byte(testKey), nil
}

func (f *fakeRouteStore) ComponentRoutes(context.Context, string) ([]contract.Route, error) {
	return nil, nil
}

func routesInput(release string, routes ...contract.Route) ApplyRoutesInput {
	return ApplyRoutesInput{Ref: webRef, ReleaseID: release, Routes: routes,
		Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}}
}

func secureRoute(name, host, cert string) contract.Route {
	return contract.Route{Name: name, Kind: contract.RouteHTTP, Host: host, Path: "/", PathType: contract.PathPrefix,
		PortName: "http", Port: 8080, Certificate: cert}
}

func TestApplyRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset(
		// the component's own Service and the secret env Secret: never a route's to prune
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "shop-web", Namespace: "acme", Labels: render.Labels(webRef)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-web-env", Namespace: "acme", Labels: render.Labels(webRef)}},
	)
	st := &fakeRouteStore{certs: map[string]string{"tls": "CHAIN"}}
	a := &Routes{Client: cs, Store: st}

	in := routesInput("r1", secureRoute("www", "shop.example.com", "tls"), secureRoute("api", "api.shop.example.com", "tls"))
	got, err := a.ApplyRoutes(ctx, in)
	require.NoError(t, err)
	require.Equal(t, []string{"Secret/shop-web-tls-tls", "Ingress/shop-web-www", "Ingress/shop-web-api"}, got.Applied)
	require.Empty(t, got.Pruned)
	require.Equal(t, 1, st.reads, "one read of a certificate two routes use")

	secret, err := cs.CoreV1().Secrets("acme").Get(ctx, "shop-web-tls-tls", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.SecretTypeTLS, secret.Type)
	require.Equal(t, []byte("CHAIN"), secret.Data["tls.crt"])
	require.Equal(t, []byte(testKey), secret.Data["tls.key"])
	ing, err := cs.NetworkingV1().Ingresses("acme").Get(ctx, "shop-web-www", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "shop-web-tls-tls", ing.Spec.TLS[0].SecretName)

	again, err := a.ApplyRoutes(ctx, in)
	require.NoError(t, err, "applying the same routes again")
	require.Equal(t, got, again)

	// the routes change: www loses its certificate, api goes, a UDP route comes
	plain := secureRoute("www", "shop.example.com", "")
	dns := contract.Route{Name: "dns", Kind: contract.RouteUDP, PortName: "dns", Port: 53, ListenPort: 5353}
	changed, err := a.ApplyRoutes(ctx, routesInput("r2", plain, dns))
	require.NoError(t, err)
	require.Equal(t, []string{"Ingress/shop-web-www", "Service/shop-web-dns"}, changed.Applied)
	require.ElementsMatch(t, []string{"Ingress/shop-web-api", "Secret/shop-web-tls-tls"}, changed.Pruned)
	_, err = cs.CoreV1().Secrets("acme").Get(ctx, "shop-web-tls-tls", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the TLS Secret no route uses is gone: %v", err)
	for _, kept := range []string{"shop-web", "shop-web-dns"} {
		_, err = cs.CoreV1().Services("acme").Get(ctx, kept, metav1.GetOptions{})
		require.NoError(t, err, "service %s", kept)
	}
	_, err = cs.CoreV1().Secrets("acme").Get(ctx, "shop-web-env", metav1.GetOptions{})
	require.NoError(t, err, "the secret env Secret is not a route's")

	// no routes: every route object goes
	none, err := a.ApplyRoutes(ctx, routesInput("r3"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"Ingress/shop-web-www", "Service/shop-web-dns"}, none.Pruned)
	ings, err := cs.NetworkingV1().Ingresses("acme").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, ings.Items)
}

func TestApplyRoutesFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		storeErr  error
		noStore   bool
		route     contract.Route
		reactor   bool // the API server refuses the Secret, quoting it
		wantType  string
		retryable bool
	}{
		{name: "certificate gone", route: secureRoute("www", "shop.example.com", "gone"), wantType: ErrTypeCertificateUnavailable},
		{name: "no keyring", route: secureRoute("www", "shop.example.com", "tls"), storeErr: fmt.Errorf("read key: %w", store.ErrNoKeyring),
			wantType: ErrTypeCertificateUnavailable},
		{name: "no store", noStore: true, route: secureRoute("www", "shop.example.com", "tls"), wantType: ErrTypeCertificateUnavailable},
		{name: "database down", route: secureRoute("www", "shop.example.com", "tls"), storeErr: errors.New("connection refused"), retryable: true},
		{name: "port gone", route: func() contract.Route {
			r := secureRoute("www", "shop.example.com", "")
			r.PortName = "admin"
			return r
		}(), wantType: ErrTypeInvalidSpec},
		{name: "secret refused", route: secureRoute("www", "shop.example.com", "tls"), reactor: true, wantType: ErrTypeInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs := fake.NewClientset()
			if tt.reactor {
				cs.PrependReactor("patch", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 422,
						Reason: metav1.StatusReasonInvalid, Message: "data[tls.key]: Invalid value: " + testKey}}
				})
			}
			a := &Routes{Client: cs, Store: &fakeRouteStore{certs: map[string]string{"tls": "CHAIN"}, err: tt.storeErr}}
			if tt.noStore {
				a.Store = nil
			}
			_, err := a.ApplyRoutes(context.Background(), routesInput("r1", tt.route))
			require.Error(t, err)
			require.NotContains(t, err.Error(), "key-bytes-never-to-be-seen", "an error never holds the key")
			var app *temporal.ApplicationError
			if tt.retryable {
				require.False(t, errors.As(err, &app) && app.NonRetryable(), "retried: %v", err)
				return
			}
			require.ErrorAs(t, err, &app)
			require.Equal(t, tt.wantType, app.Type())
			require.True(t, app.NonRetryable())
		})
	}
}

func TestDeleteComponentDeletesRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset()
	a := &Routes{Client: cs, Store: &fakeRouteStore{certs: map[string]string{"tls": "CHAIN"}}}
	_, err := a.ApplyRoutes(ctx, routesInput("r1", secureRoute("www", "shop.example.com", "tls")))
	require.NoError(t, err)
	k := &Kube{Client: cs, PollInterval: 10 * time.Millisecond}
	res, err := runDelete(t, k, DeleteComponentInput{Ref: webRef}, nil)
	require.NoError(t, err)
	require.Contains(t, res.Deleted, "Ingress/shop-web-www")
	require.Contains(t, res.Deleted, "Secret/shop-web-tls-tls")
}
