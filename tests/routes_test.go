package tests

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// TestRoutes gives a component a certificate and HTTP routes through the API and checks what a user
// would see: the first deploy applies the routes as Ingresses of class rainflow with a kubernetes.io/tls
// Secret; the gateway sends a request with a route's host to the component's pods; a route added to
// the running component takes effect by a Routes operation, without a redeploy, and is recorded in a
// new release; a deleted route's Ingress goes (and the TLS Secret once no route uses its certificate);
// a certificate in use cannot be deleted. The key is never in an API answer, in the metadata database
// in plaintext, or in any event of the component's workflows. With RAINFLOW_RECORD_HISTORY_DIR=<dir>
// it writes the deploy's and a Routes operation's histories to <dir>/deploy-routes.json and
// <dir>/routes.json, for the replay tests.
func TestRoutes(t *testing.T) {
	require.True(t, stack.RealNode, "needs the real node: %s", stack.RealNodeReason)
	ctx := testContext(t)
	api := newAPIClient(stack.APIURL, stack.APIToken)
	kube := kubeClient(t)
	tenant := uniqueName("routes")
	body := "routed " + tenant + "\n"
	pushHTTPD(t, ctx, "routes/web", "v1", body)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants", map[string]any{"name": tenant}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps", map[string]any{"name": "shop"}, nil)
	api.must(t, http.StatusCreated, "POST", "/v1/tenants/"+tenant+"/apps/shop/components",
		map[string]any{"name": "web", "spec": webSpec(stack.RegistryAddr + "/routes/web:v1")}, nil)
	comp := "/v1/tenants/" + tenant + "/apps/shop/components/web"
	certs := "/v1/tenants/" + tenant + "/certificates"
	domain := tenant + ".example.test"
	www, apiHost := "www."+domain, "api."+domain
	tc, err := client.DialContext(ctx, client.Options{HostPort: stack.TemporalAddr, Namespace: stack.Namespace})
	require.NoError(t, err)
	defer tc.Close()
	record := func(name, workflowID string) {
		if dir := os.Getenv("RAINFLOW_RECORD_HISTORY_DIR"); dir != "" {
			recordHistory(t, ctx, tc, workflowID, "", filepath.Join(dir, name))
		}
	}

	var deleted struct {
		Operation *accepted `json:"operation"`
	}

	// a certificate: a wildcard of the tenant's domain, self-signed; its key never comes back
	certPEM, keyPEM := selfSigned(t, "*."+domain)
	secretLine := strings.Split(strings.TrimSpace(keyPEM), "\n")[1] // key material no answer may hold
	r := api.must(t, http.StatusCreated, "POST", certs, map[string]any{"name": "wild", "certPEM": certPEM, "keyPEM": keyPEM}, nil)
	require.NotContains(t, string(r.Body), secretLine)
	var cert struct {
		SANs          []string `json:"sans"`
		ExpiresInDays int      `json:"expiresInDays"`
		Expired       bool     `json:"expired"`
	}
	require.NoError(t, jsonUnmarshal(r.Body, &cert))
	require.Equal(t, []string{"*." + domain}, cert.SANs)
	require.False(t, cert.Expired)
	require.Equal(t, 29, cert.ExpiresInDays)

	// a route of a component never deployed queues nothing: the first deploy applies it
	var written struct {
		Name      string    `json:"name"`
		Operation *accepted `json:"operation"`
	}
	api.must(t, http.StatusCreated, "POST", comp+"/routes",
		map[string]any{"name": "www", "host": www, "portName": "http", "certificate": "wild"}, &written)
	require.Nil(t, written.Operation)

	var deploy accepted
	api.must(t, http.StatusAccepted, "POST", comp+"/deploys", nil, &deploy)
	op := waitOperation(t, api, tenant, deploy.OperationID, 3*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	require.Equal(t, []string{"resolve image", "ensure namespace", "read current release", "apply", "wait for rollout", "apply routes", "record release"},
		stepNamesOf(op))
	record("deploy-routes.json", op.WorkflowID)

	ing, err := kube.NetworkingV1().Ingresses(tenant).Get(ctx, "shop-web-www", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, contract.IngressClass, *ing.Spec.IngressClassName)
	require.Equal(t, www, ing.Spec.Rules[0].Host)
	backend := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	require.Equal(t, "shop-web", backend.Name)
	require.Equal(t, "http", backend.Port.Name)
	require.Equal(t, []networkingv1.IngressTLS{{Hosts: []string{www}, SecretName: "shop-web-tls-wild"}}, ing.Spec.TLS)
	require.Equal(t, deploy.OperationID, ing.Labels[contract.LabelRelease])
	secret, err := kube.CoreV1().Secrets(tenant).Get(ctx, "shop-web-tls-wild", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, corev1.SecretTypeTLS, secret.Type)
	require.Equal(t, certPEM, string(secret.Data[corev1.TLSCertKey]))
	require.Equal(t, keyPEM, string(secret.Data[corev1.TLSPrivateKeyKey]))

	// the gateway sends the route's host to the pods
	requireGateway(t, www, http.StatusOK, body)
	requireGateway(t, apiHost, http.StatusNotFound, "")

	// a route added to the running component: a Routes operation, no redeploy
	api.must(t, http.StatusCreated, "POST", comp+"/routes",
		map[string]any{"name": "api", "host": apiHost, "path": "/", "pathType": "Prefix", "port": 8080, "certificate": "wild", "forceHttps": true}, &written)
	require.NotNil(t, written.Operation)
	op = waitOperation(t, api, tenant, written.Operation.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	require.Equal(t, []string{"read current release", "read routes", "apply routes", "record release"}, stepNamesOf(op))
	record("routes.json", op.WorkflowID)
	routesOp := op.WorkflowID
	ing, err = kube.NetworkingV1().Ingresses(tenant).Get(ctx, "shop-web-api", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "true", ing.Annotations[contract.AnnotationForceHTTPS])
	// forced HTTPS: the gateway answers plain HTTP with a redirect to the same URL over HTTPS
	requireGateway(t, apiHost, http.StatusPermanentRedirect, "")
	requireRedirect(t, apiHost, "https://"+apiHost+"/index.html")
	dep, err := kube.AppsV1().Deployments(tenant).Get(ctx, "shop-web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, deploy.OperationID, dep.Labels[contract.LabelRelease], "the workload is not redeployed")

	var releases struct {
		Items []struct {
			ID          string           `json:"id"`
			ImageDigest string           `json:"imageDigest"`
			Routes      []contract.Route `json:"routes"`
		} `json:"items"`
	}
	api.must(t, http.StatusOK, "GET", comp+"/releases", nil, &releases)
	require.Len(t, releases.Items, 2)
	require.Equal(t, written.Operation.OperationID, releases.Items[0].ID, "the Routes operation recorded a release")
	require.Equal(t, releases.Items[1].ImageDigest, releases.Items[0].ImageDigest, "of the same image")
	require.Len(t, releases.Items[0].Routes, 2)
	require.Len(t, releases.Items[1].Routes, 1)

	// a TCP route balanced by least-connections: its Service carries the policy, the gateway serves it so
	listen := freeTCPPort(t)
	api.must(t, http.StatusCreated, "POST", comp+"/routes", map[string]any{"name": "raw", "kind": "tcp", "portName": "http",
		"listenPort": listen, "loadBalance": map[string]any{"policy": "least-connections"}}, &written)
	op = waitOperation(t, api, tenant, written.Operation.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	svc, err := kube.CoreV1().Services(tenant).Get(ctx, "shop-web-raw", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "least-connections", svc.Annotations[contract.AnnotationLoadBalance])
	requireL4Policy(t, listen, tenant+"/shop-web-raw", "least-connections")
	requireTCPGet(t, listen, body)
	api.must(t, http.StatusOK, "DELETE", comp+"/routes/raw", nil, &deleted)
	op = waitOperation(t, api, tenant, deleted.Operation.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)

	// a certificate in use is not deleted
	p := problemOf(t, api.do(t, "DELETE", certs+"/wild", nil), http.StatusConflict)
	require.Contains(t, p.Detail, "shop/web/api")

	// deleting a route takes its Ingress off the gateway; the TLS Secret stays while a route uses it
	api.must(t, http.StatusOK, "DELETE", comp+"/routes/www", nil, &deleted)
	op = waitOperation(t, api, tenant, deleted.Operation.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	requireGone(t, func() error {
		_, err := kube.NetworkingV1().Ingresses(tenant).Get(ctx, "shop-web-www", metav1.GetOptions{})
		return err
	})
	_, err = kube.CoreV1().Secrets(tenant).Get(ctx, "shop-web-tls-wild", metav1.GetOptions{})
	require.NoError(t, err, "route api still uses the certificate")
	requireGateway(t, www, http.StatusNotFound, "")

	api.must(t, http.StatusOK, "DELETE", comp+"/routes/api", nil, &deleted)
	op = waitOperation(t, api, tenant, deleted.Operation.OperationID, 2*time.Minute)
	require.Equal(t, "succeeded", op.State, "error: %s, steps: %+v", op.Error, op.Steps)
	requireGone(t, func() error {
		_, err := kube.NetworkingV1().Ingresses(tenant).Get(ctx, "shop-web-api", metav1.GetOptions{})
		return err
	})
	requireGone(t, func() error {
		_, err := kube.CoreV1().Secrets(tenant).Get(ctx, "shop-web-tls-wild", metav1.GetOptions{})
		return err
	})
	api.must(t, http.StatusNoContent, "DELETE", certs+"/wild", nil, nil)

	// the key is in the database only sealed
	if db, ok := stackDatabase(t); ok {
		require.True(t, bytes.Contains(db, []byte(domain)), "the database holds the routes (the check reads the right files)")
		require.False(t, bytes.Contains(db, []byte(secretLine)), "the database holds the certificate's key in plaintext")
	}

	// no event of the component's workflows holds the key
	ids := []string{contract.ComponentWorkflowID(contract.ComponentRef{Tenant: tenant, App: "shop", Component: "web"}), routesOp,
		contract.OperationWorkflowID(contract.OperationDeploy, contract.ComponentRef{Tenant: tenant, App: "shop", Component: "web"}, deploy.OperationID)}
	events := requireNoEventHolds(t, ctx, tc, ids, "the certificate's key", secretLine)
	t.Logf("checked %d events of %d workflows: no key", events, len(ids))
	require.Greater(t, events, 20)
}

// selfSigned answers a self-signed certificate for the host, valid 30 days, and its key, PEM.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30*24*time.Hour - time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// requireGateway waits until the gateway answers a request for host with the status (and body, when
// given): it sees Kubernetes changes by its watch, a moment after they are made.
func requireGateway(t *testing.T, host string, status int, body string) {
	t.Helper()
	httpc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var last string
	require.Eventually(t, func() bool {
		req, err := http.NewRequest("GET", stack.GatewayURL+"/index.html", nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := httpc.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = resp.Status + ": " + string(got)
		return resp.StatusCode == status && (body == "" || string(got) == body)
	}, 30*time.Second, 200*time.Millisecond, "the gateway does not answer %d for host %s; last: %s", status, host, last)
}

// requireRedirect requires the gateway's answer for host to redirect to location.
func requireRedirect(t *testing.T, host, location string) {
	t.Helper()
	httpc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("GET", stack.GatewayURL+"/index.html", nil)
	require.NoError(t, err)
	req.Host = host
	resp, err := httpc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, location, resp.Header.Get("Location"))
}

// requireGone waits until get answers NotFound.
func requireGone(t *testing.T, get func() error) {
	t.Helper()
	require.Eventually(t, func() bool { return apierrors.IsNotFound(get()) }, 30*time.Second, 200*time.Millisecond)
}

func stepNamesOf(op operation) []string {
	var names []string
	for _, s := range op.Steps {
		names = append(names, s.Name)
	}
	return names
}

// freeTCPPort answers a TCP port of 127.0.0.1 that nothing listens on now: a TCP route's gateway port
// (claims outlive a run in the stack's database, so a fixed one would be taken by the last run).
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// gatewayAdminURL is the stack gateway's admin address, as rainflow dev wrote it in its info file.
func gatewayAdminURL(t *testing.T) string {
	t.Helper()
	require.NotEmpty(t, stack.GatewayAdminURL, "the dev info file names the gateway's admin address")
	return stack.GatewayAdminURL
}

// requireL4Policy waits until the stack gateway's /debug/routes lists the TCP route on port, to
// service, balanced by policy.
func requireL4Policy(t *testing.T, port int, service, policy string) {
	t.Helper()
	type l4 struct {
		Protocol string `json:"protocol"`
		Port     int    `json:"port"`
		Service  string `json:"service"`
		Policy   string `json:"policy"`
		Error    string `json:"error"`
	}
	var last []l4
	require.Eventually(t, func() bool {
		resp, err := http.Get(gatewayAdminURL(t) + "/debug/routes")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var routes struct {
			L4 []l4 `json:"l4"`
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || jsonUnmarshal(b, &routes) != nil {
			return false
		}
		last = routes.L4
		for _, r := range routes.L4 {
			if r.Port == port && r.Protocol == "TCP" {
				return r.Service == service && r.Policy == policy && r.Error == ""
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "the gateway's /debug/routes does not list TCP port %d to %s with policy %s; last: %+v", port, service, policy, last)
}

// requireTCPGet sends an HTTP/1.0 GET through the gateway's TCP port (on the host of its HTTP port)
// and requires the answer's body.
func requireTCPGet(t *testing.T, port int, body string) {
	t.Helper()
	gateway, err := url.Parse(stack.GatewayURL)
	require.NoError(t, err)
	var last string
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(gateway.Hostname(), strconv.Itoa(port)), 5*time.Second)
		if err != nil {
			last = err.Error()
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET /index.html HTTP/1.0\r\n\r\n"); err != nil {
			last = err.Error()
			return false
		}
		got, _ := io.ReadAll(conn)
		last = string(got)
		return strings.HasPrefix(last, "HTTP/1.") && strings.HasSuffix(last, "\r\n\r\n"+body)
	}, 30*time.Second, 200*time.Millisecond, "no answer %q through TCP port %d; last: %q", body, port, last)
}
