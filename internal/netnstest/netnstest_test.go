package netnstest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostServesTCPHTTPAndUDP(t *testing.T) {
	t.Parallel()
	h := New(t)
	assert.True(t, hostRange.Contains(h.Addr), "address %s is in %s", h.Addr, hostRange)
	assert.True(t, h.Subnet.Contains(h.Gateway) && h.Subnet.Contains(h.Addr))
	assert.False(t, h.Addr.IsLoopback())

	// HTTP, reached from the test's namespace at the host's address.
	ln, err := h.Listen("tcp", 0)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "served in the namespace, for "+r.RemoteAddr)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	assert.Equal(t, h.Addr, netip.MustParseAddrPort(ln.Addr().String()).Addr())
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get("http://" + ln.Addr().String() + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	assert.Contains(t, string(body), "served in the namespace, for "+h.Gateway.String()+":",
		"the request came over the veth pair, from the test's end")

	// UDP.
	pc, err := h.ListenPacket("udp", 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "echo ping", string(buf[:n]))
}

func TestHostDialsTheTestNamespace(t *testing.T) {
	t.Parallel()
	h := New(t)
	// A server of the test's namespace on the veth end, dialled from inside the host.
	ln, err := net.Listen("tcp", net.JoinHostPort(h.Gateway.String(), "0"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_, _ = io.WriteString(c, c.RemoteAddr().String()+"\n")
	}()
	c, err := h.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, h.Addr, netip.MustParseAddrPort(line[:len(line)-1]).Addr(), "the client is the host")

	// 127.0.0.1 inside the host is the host's own loopback, not the test's.
	_, err = h.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	assert.Error(t, err)
}

func TestDoRestoresTheThread(t *testing.T) {
	t.Parallel()
	h := New(t)
	runtime.LockOSThread() // ours, for the whole test
	defer runtime.UnlockOSThread()
	before := netnsOfThread(t)
	var inside string
	runtime.LockOSThread() // the one doLocked releases once the thread is back
	require.NoError(t, h.doLocked(func() error {
		inside = netnsOfThread(t)
		return nil
	}))
	assert.NotEqual(t, before, inside, "fn ran in the host's namespace")
	assert.Equal(t, before, netnsOfThread(t), "the thread is back in its own namespace")
}

func TestCleanupDeletesTheHost(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("host", func(t *testing.T) {
		h := New(t)
		name = h.Name
		_, err := os.Stat(filepath.Join("/run/netns", name))
		require.NoError(t, err)
	})
	if name == "" {
		t.Skip("the host was not created")
	}
	_, err := os.Stat(filepath.Join("/run/netns", name))
	assert.ErrorIs(t, err, os.ErrNotExist, "the namespace is deleted")
	_, err = net.InterfaceByName(name + "h")
	assert.Error(t, err, "the test's end of the veth pair is deleted")
}

func TestParseRoutesAndSubnets(t *testing.T) {
	t.Parallel()
	routes := parseRoutes(`default via 192.0.2.1 dev eth0
10.244.0.0/24 dev rainflow0 proto kernel scope link src 10.244.0.1 linkdown
local 10.213.0.9 dev x table local proto kernel scope host src 10.213.0.9
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
`)
	assert.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.244.0.0/24"),
		netip.MustParsePrefix("10.213.0.9/32"),
		netip.MustParsePrefix("127.255.255.255/32"),
	}, routes)
	assert.Equal(t, netip.MustParsePrefix("10.213.0.0/30"), subnetAt(0))
	assert.Equal(t, netip.MustParsePrefix("10.213.1.0/30"), subnetAt(64))
	assert.Equal(t, netip.MustParsePrefix("10.213.255.252/30"), subnetAt(16383))
	assert.True(t, overlapsAny(subnetAt(2), routes), "10.213.0.8/30 holds a routed address")
	assert.False(t, overlapsAny(subnetAt(3), routes))
}

// netnsOfThread is the identity of the calling thread's network namespace.
func netnsOfThread(t *testing.T) string {
	t.Helper()
	target, err := os.Readlink("/proc/thread-self/ns/net")
	require.NoError(t, err)
	return target
}
