package tests

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/gateway"
)

// tlsSecret creates a kubernetes.io/tls Secret holding a self-signed certificate for host and answers
// the certificate.
func (e *gwEnv) tlsSecret(name, host string) *x509.Certificate {
	e.t.Helper()
	certPEM, keyPEM := selfSigned(e.t, host)
	_, err := e.kube.CoreV1().Secrets(e.ns).Create(e.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: []byte(certPEM), corev1.TLSPrivateKeyKey: []byte(keyPEM)},
	}, metav1.CreateOptions{})
	require.NoError(e.t, err)
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	require.NoError(e.t, err)
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(e.t, err)
	return cert
}

// TestGatewayTLS checks the HTTPS listener serves each host the certificate of its Ingress's Secret
// (chosen by SNI), the default certificate to other names, refuses TLS 1.1, and proxies over TLS.
func TestGatewayTLS(t *testing.T) {
	e := newGatewayEnv(t, "gwtls")
	e.backendService("web", startBackend(t, "web", nil))
	certA, certB := e.tlsSecret("cert-a", "a.tls.test"), e.tlsSecret("cert-b", "b.tls.test")
	ing := e.ingress("tls", nil, gwRule{host: "a.tls.test", service: "web"}, gwRule{host: "b.tls.test", service: "web"})
	ing.Spec.TLS = []networkingv1.IngressTLS{
		{Hosts: []string{"a.tls.test"}, SecretName: "cert-a"},
		{Hosts: []string{"b.tls.test"}, SecretName: "cert-b"},
	}
	e.createIngress(ing)
	g := e.startGateway()
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		return len(r.TLS) == 2
	}, 30*time.Second, 20*time.Millisecond, "both certificates are in the table")
	addr := g.HTTPSAddr().String()

	tests := []struct {
		name       string
		serverName string
		want       *x509.Certificate // nil: the default certificate, neither a nor b
	}{
		{name: "first host", serverName: "a.tls.test", want: certA},
		{name: "second host", serverName: "b.tls.test", want: certB},
		{name: "unknown host gets the default", serverName: "c.tls.test"},
		{name: "no server name gets the default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tc.serverName, InsecureSkipVerify: true})
			require.NoError(t, err)
			defer conn.Close()
			state := conn.ConnectionState()
			require.GreaterOrEqual(t, state.Version, uint16(tls.VersionTLS12))
			got := state.PeerCertificates[0]
			if tc.want != nil {
				require.True(t, got.Equal(tc.want), "served %v for %q", got.Subject, tc.serverName)
				return
			}
			require.False(t, got.Equal(certA) || got.Equal(certB), "served an Ingress's certificate for %q", tc.serverName)
		})
	}

	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.tls.test", InsecureSkipVerify: true,
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
		}
		require.Error(t, err)
	})

	t.Run("HTTPS request verified by the host's certificate", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AddCert(certA)
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "a.tls.test"},
			ForceAttemptHTTP2: true,
		}}
		req, err := http.NewRequest("GET", "https://"+addr+"/secure", nil)
		require.NoError(t, err)
		req.Host = "a.tls.test"
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		require.Equal(t, "web /secure", string(body))
		require.Equal(t, 2, resp.ProtoMajor, "HTTP/2 by ALPN")
	})
}

// echoWebSocket accepts a WebSocket and sends every message back prefixed with "echo: ".
func echoWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
			return
		}
	}
}

// TestGatewayWebSocket echoes WebSocket messages through the gateway to a backend in a test host.
func TestGatewayWebSocket(t *testing.T) {
	e := newGatewayEnv(t, "gwws")
	e.backendService("ws", startBackend(t, "ws", http.HandlerFunc(echoWebSocket)))
	e.createIngress(e.ingress("ws", nil, gwRule{host: "ws.test", path: "/ws", service: "ws"}))
	g := e.startGateway()
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		return len(r.HTTP) == 1 && len(r.HTTP[0].Backend.Endpoints) == 1
	}, 30*time.Second, 20*time.Millisecond)

	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+g.HTTPAddr().String()+"/ws", &websocket.DialOptions{Host: "ws.test"})
	require.NoError(t, err)
	defer c.CloseNow()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	for i := range 20 {
		msg := fmt.Sprintf("message %d", i)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
		typ, got, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, typ)
		require.Equal(t, "echo: "+msg, string(got))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
}

// TestGatewayTLSFastPath drives HTTPS over HTTP/1.1 (the gateway's fast path) to a backend in a test
// host: several requests on one kept-alive TLS connection, X-Forwarded-Proto https, a force-https rule
// that redirects plain HTTP and serves HTTPS without a loop, and a WebSocket over TLS.
func TestGatewayTLSFastPath(t *testing.T) {
	e := newGatewayEnv(t, "gwtlsfast")
	e.backendService("web", startBackend(t, "web", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			_, _ = fmt.Fprintf(w, "web %s %s", r.URL.Path, r.Header.Get("X-Forwarded-Proto"))
			return
		}
		echoWebSocket(w, r)
	})))
	cert := e.tlsSecret("cert-f", "f.tls.test")
	ing := e.ingress("secure", map[string]string{contract.AnnotationForceHTTPS: "true"}, gwRule{host: "f.tls.test", service: "web"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"f.tls.test"}, SecretName: "cert-f"}}
	e.createIngress(ing)
	g := e.startGateway()
	require.Eventually(t, func() bool {
		r, _ := g.Routes()
		return len(r.TLS) == 1 && len(r.HTTP) == 1 && len(r.HTTP[0].Backend.Endpoints) == 1
	}, 30*time.Second, 20*time.Millisecond)
	addr := g.HTTPSAddr().String()

	plain := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest("GET", "http://"+g.HTTPAddr().String()+"/pay", nil)
	require.NoError(t, err)
	req.Host = "f.tls.test"
	resp, err := plain.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPermanentRedirect, resp.StatusCode, "plain HTTP is redirected")
	require.Equal(t, "https://f.tls.test/pay", resp.Header.Get("Location"))

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "f.tls.test", NextProtos: []string{"http/1.1"}}
	dials := 0
	transport := &http.Transport{TLSClientConfig: tlsConfig, MaxConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials++
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: 5 * time.Second, Transport: transport}
	for i := range 3 {
		req, err := http.NewRequest("GET", "https://"+addr+"/pay/"+strconv.Itoa(i), nil)
		require.NoError(t, err)
		req.Host = "f.tls.test"
		resp, err := client.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, "HTTPS is served, not redirected again")
		require.Equal(t, 1, resp.ProtoMajor)
		require.Equal(t, "web /pay/"+strconv.Itoa(i)+" https", string(body))
	}
	require.Equal(t, 1, dials, "the three requests shared one TLS connection")

	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{Host: "f.tls.test",
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}})
	require.NoError(t, err)
	defer c.CloseNow()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	for i := range 5 {
		msg := fmt.Sprintf("message %d", i)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
		_, got, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, "echo: "+msg, string(got))
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "done"))
}

// freeLoopbackPort answers a port that nothing listens on right now on either 127.0.0.1 or ::1, for the
// network: the stack's gateway serves a route's port on the first, the test's gateway on the second.
func freeLoopbackPort(t *testing.T, network string) int32 {
	t.Helper()
	bind := func(host string, port int) (int, error) {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		if network == "udp" {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				return 0, err
			}
			defer pc.Close()
			return pc.LocalAddr().(*net.UDPAddr).Port, nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return 0, err
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port, nil
	}
	for range 20 {
		port, err := bind("::1", 0)
		require.NoError(t, err)
		if _, err := bind("127.0.0.1", port); err == nil {
			return int32(port)
		}
	}
	t.Fatalf("no %s port free on both 127.0.0.1 and ::1", network)
	return 0
}

// TestGatewayL4 routes a TCP and a UDP port of the gateway, from Services annotated with the listen
// port, to echo servers in a test host. The first connection must be served: a route's port never
// resets a client, neither on a gateway that starts with the route nor on a running one that sees the
// Service before its EndpointSlice.
//
// The stack's own gateway watches every namespace and opens these routes' ports too, on 127.0.0.1: the
// test's gateway serves its data plane on ::1 so that each gateway owns its listeners (both binding
// 127.0.0.1 split the ports between them, and the test talked to whichever won).
func TestGatewayL4(t *testing.T) {
	e := newGatewayEnv(t, "gwl4")
	b := startBackend(t, "l4", nil) // the test host; the echo servers run on it beside the HTTP one
	const echoPort = 9000
	ln, err := b.host.Listen("tcp", echoPort)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, "tcp: "+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	pc, err := b.host.ListenPacket("udp", echoPort)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("udp: "), buf[:n]...), from)
		}
	}()

	tcpPort, udpPort := freeLoopbackPort(t, "tcp"), freeLoopbackPort(t, "udp")
	echo := gwEndpoint{addr: b.host.Addr.String(), ready: true}

	// The stack's gateway sees the TCP Service before its EndpointSlice: a client that connects in
	// between waits for the endpoint and is answered.
	e.service("game", map[string]string{contract.AnnotationListenPort: strconv.Itoa(int(tcpPort))}, echoPort, corev1.ProtocolTCP)
	stackAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(tcpPort)))
	var held net.Conn
	require.Eventually(t, func() bool { // refused until the stack's gateway listens: not a reset
		held, err = net.DialTimeout("tcp", stackAddr, time.Second)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond, "the stack's gateway listens on the TCP route: %v", err)
	defer held.Close()
	require.NoError(t, held.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = fmt.Fprintf(held, "line held\n")
	require.NoError(t, err)
	_, err = e.kube.DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx,
		e.endpointSlice("game", echoPort, corev1.ProtocolTCP, echo), metav1.CreateOptions{})
	require.NoError(t, err)
	got, err := bufio.NewReader(held).ReadString('\n')
	require.NoError(t, err, "the stack's gateway answers the connection made before the endpoint existed")
	require.Equal(t, "tcp: line held\n", got)

	e.service("voice", map[string]string{contract.AnnotationListenPort: strconv.Itoa(int(udpPort))}, echoPort, corev1.ProtocolUDP)
	_, err = e.kube.DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx,
		e.endpointSlice("voice", echoPort, corev1.ProtocolUDP, echo), metav1.CreateOptions{})
	require.NoError(t, err)

	// The test's own gateway starts with both routes in place: once it lists the TCP route with its
	// endpoint, the first connection must be served.
	g := e.startGatewayOn("::1")
	echoEndpoint := net.JoinHostPort(echo.addr, strconv.Itoa(echoPort))
	wantTCP := gateway.L4Route{Port: tcpPort, Protocol: corev1.ProtocolTCP, Service: e.ns + "/game", ServicePort: "main",
		ServicePortNumber: echoPort, Endpoints: []string{echoEndpoint}}
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(g.L4Routes(), func(r gateway.L4Route) bool { return reflect.DeepEqual(r, wantTCP) }) &&
			g.L4Addr(tcpPort, corev1.ProtocolTCP) != nil
	}, 30*time.Second, 20*time.Millisecond, "the gateway serves the TCP route with its endpoint: %+v", g.L4Routes())
	tcpAddr := net.JoinHostPort("::1", strconv.Itoa(int(tcpPort)))
	require.Equal(t, tcpAddr, g.L4Addr(tcpPort, corev1.ProtocolTCP).String())
	conn, err := net.DialTimeout("tcp", tcpAddr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	r := bufio.NewReader(conn)
	for i := range 10 {
		_, err := fmt.Fprintf(conn, "line %d\n", i)
		require.NoError(t, err)
		got, err := r.ReadString('\n')
		require.NoError(t, err, "line %d (the first connection to the route)", i)
		require.Equal(t, fmt.Sprintf("tcp: line %d\n", i), got)
	}

	udp, err := net.Dial("udp", net.JoinHostPort("::1", strconv.Itoa(int(udpPort))))
	require.NoError(t, err)
	defer udp.Close()
	buf := make([]byte, 2048)
	require.Eventually(t, func() bool { // datagrams sent before the route listens are lost
		_ = udp.SetDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := udp.Write([]byte("ping")); err != nil {
			return false
		}
		n, err := udp.Read(buf)
		return err == nil && string(buf[:n]) == "udp: ping"
	}, 30*time.Second, 50*time.Millisecond, "the UDP route answers")
	for i := range 10 {
		require.NoError(t, udp.SetDeadline(time.Now().Add(5*time.Second)))
		msg := fmt.Sprintf("datagram %d", i)
		_, err := udp.Write([]byte(msg))
		require.NoError(t, err)
		n, err := udp.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "udp: "+msg, string(buf[:n]))
	}

	// A UDP route appears on the running gateway, its Service before its EndpointSlice: the first
	// datagram, sent in between, is held for the endpoint and answered.
	latePort := freeLoopbackPort(t, "udp")
	e.service("voice-late", map[string]string{contract.AnnotationListenPort: strconv.Itoa(int(latePort))}, echoPort, corev1.ProtocolUDP)
	require.Eventually(t, func() bool { return g.L4Addr(latePort, corev1.ProtocolUDP) != nil },
		30*time.Second, 20*time.Millisecond, "the gateway listens on the UDP route without endpoints")
	late, err := net.Dial("udp", net.JoinHostPort("::1", strconv.Itoa(int(latePort))))
	require.NoError(t, err)
	defer late.Close()
	_, err = late.Write([]byte("early"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		i := slices.IndexFunc(g.L4Status(), func(s gateway.L4RouteStatus) bool { return s.Port == latePort && s.Protocol == corev1.ProtocolUDP })
		return i >= 0 && g.L4Status()[i].Waiting == 1
	}, 10*time.Second, 10*time.Millisecond, "the client waits for an endpoint: %+v", g.L4Status())
	written := time.Now()
	_, err = e.kube.DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx,
		e.endpointSlice("voice-late", echoPort, corev1.ProtocolUDP, echo), metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, late.SetDeadline(time.Now().Add(10*time.Second)))
	n, err := late.Read(buf)
	require.NoError(t, err, "the datagram sent before the endpoint existed is answered")
	require.Equal(t, "udp: early", string(buf[:n]))
	t.Logf("a UDP datagram held for its route's endpoint was answered %s after the EndpointSlice write", time.Since(written).Round(time.Millisecond))

	// /debug/routes lists the TCP and UDP routes beside the HTTP table.
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/debug/routes")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var routes struct {
		L4 []gateway.L4RouteStatus `json:"l4"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&routes))
	want := func(port int32, protocol corev1.Protocol, svc string) gateway.L4RouteStatus {
		return gateway.L4RouteStatus{Protocol: protocol, Port: port, Listen: net.JoinHostPort("::1", strconv.Itoa(int(port))),
			Service: e.ns + "/" + svc, ServicePort: "main", ServicePortNumber: echoPort, Policy: gateway.L4PolicyRoundRobin,
			Endpoints: []string{echoEndpoint}}
	}
	for i := range routes.L4 { // the connections and clients in progress are not what this checks
		routes.L4[i].Active, routes.L4[i].Waiting = 0, 0
	}
	require.ElementsMatch(t, []gateway.L4RouteStatus{
		want(tcpPort, corev1.ProtocolTCP, "game"), want(udpPort, corev1.ProtocolUDP, "voice"),
		want(latePort, corev1.ProtocolUDP, "voice-late"),
	}, routes.L4)
}
