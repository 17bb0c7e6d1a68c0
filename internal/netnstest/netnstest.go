// Package netnstest gives a Go test hosts of its own: each Host is a network namespace linked to the
// test's namespace by a veth pair on a private /30, so servers the test starts inside it listen on a
// real, non-loopback address that Kubernetes accepts in an EndpointSlice, and are reachable from the
// test process (and from a gateway it runs) without touching any other interface.
//
// A Host needs root and the ip command (iproute2); New skips the test when either is missing. The
// namespace, and with it both ends of the veth pair, are deleted when the test ends.
package netnstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// hostRange is where the hosts' /30 subnets come from: 16,384 of them, each host taking one that no
// route of the machine overlaps and that no other test (of any process) holds. Read only.
var hostRange = netip.MustParsePrefix("10.213.0.0/16")

// namePrefix starts the names of the namespaces and veth interfaces this package creates.
const namePrefix = "rfnt"

// Host is one test host: a network namespace with one veth interface.
type Host struct {
	// Name is the namespace's name (ip netns exec Name ...).
	Name string
	// Addr is the host's address, inside the namespace; servers started by Listen bind to it.
	Addr netip.Addr
	// Gateway is the address of the test's end of the veth pair, in the test's namespace; the host
	// reaches the test process there.
	Gateway netip.Addr
	// Subnet is the /30 the two addresses are in.
	Subnet netip.Prefix
}

// New creates a test host, deleted when the test ends. It skips the test without root or the ip
// command, and fails it when the host cannot be set up.
func New(t testing.TB) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netnstest: needs root to create a network namespace (ip netns add); run the test as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netnstest: the ip command (Debian package iproute2) is not installed")
	}
	h, err := create()
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	t.Cleanup(func() {
		if err := h.delete(); err != nil {
			t.Errorf("netnstest: %v", err)
		}
	})
	return h
}

// create claims a free /30 and sets up its namespace and veth pair. The namespace name is derived from
// the subnet, so `ip netns add` failing because the name exists means another test holds the subnet.
func create() (*Host, error) {
	routes, err := routedPrefixes()
	if err != nil {
		return nil, err
	}
	n := 1 << (30 - hostRange.Bits())
	start := rand.IntN(n)
	for i := range n {
		idx := (start + i) % n
		subnet := subnetAt(idx)
		if overlapsAny(subnet, routes) {
			continue
		}
		h := &Host{Name: namePrefix + strconv.Itoa(idx), Subnet: subnet}
		h.Gateway = subnet.Addr().Next()
		h.Addr = h.Gateway.Next()
		if out, err := exec.Command("ip", "netns", "add", h.Name).CombinedOutput(); err != nil {
			if strings.Contains(string(out), "exists") {
				continue // another test holds this subnet
			}
			return nil, fmt.Errorf("create network namespace %s: %w: %s", h.Name, err, strings.TrimSpace(string(out)))
		}
		if err := h.link(); err != nil {
			return nil, errors.Join(err, h.delete())
		}
		return h, nil
	}
	return nil, fmt.Errorf("claim a subnet: every /30 of %s is in use or routed", hostRange)
}

// link creates the veth pair: the test's end (Name+"h") holds Gateway, the host's end (Name+"n")
// holds Addr inside the namespace, whose loopback is brought up too.
func (h *Host) link() error {
	outer, inner := h.Name+"h", h.Name+"n"
	bits := strconv.Itoa(h.Subnet.Bits())
	for _, args := range [][]string{
		{"link", "add", outer, "type", "veth", "peer", "name", inner, "netns", h.Name},
		{"addr", "add", h.Gateway.String() + "/" + bits, "dev", outer},
		{"link", "set", outer, "up"},
		{"-n", h.Name, "addr", "add", h.Addr.String() + "/" + bits, "dev", inner},
		{"-n", h.Name, "link", "set", inner, "up"},
		{"-n", h.Name, "link", "set", "lo", "up"},
		{"-n", h.Name, "route", "add", "default", "via", h.Gateway.String()},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("set up test host %s: ip %s: %w: %s", h.Name, strings.Join(args, " "), err,
				strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// delete removes the veth pair (at once: the kernel tears a deleted namespace's interfaces down
// later, in the background) and the namespace.
func (h *Host) delete() error {
	var errs []error
	if out, err := exec.Command("ip", "link", "del", h.Name+"h").CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "Cannot find device") {
		errs = append(errs, fmt.Errorf("delete veth %sh: %w: %s", h.Name, err, strings.TrimSpace(string(out))))
	}
	if out, err := exec.Command("ip", "netns", "del", h.Name).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("delete network namespace %s: %w: %s", h.Name, err, strings.TrimSpace(string(out))))
	}
	return errors.Join(errs...)
}

// Do runs fn on an OS thread switched into the host's namespace: sockets fn opens belong to the host
// and keep working from any goroutine afterwards. The thread is switched back before it is released;
// if that fails, the thread is dropped with its goroutine rather than reused in the wrong namespace.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- h.doLocked(fn)
	}()
	return <-errc
}

// doLocked is Do on the calling goroutine, which must hold its OS thread locked; it unlocks the thread
// only once it is back in its own namespace.
func (h *Host) doLocked(fn func() error) error {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the thread's network namespace: %w", err)
	}
	defer func() { _ = unix.Close(self) }()
	target, err := unix.Open(filepath.Join("/run/netns", h.Name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", h.Name, err)
	}
	defer func() { _ = unix.Close(target) }()
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread() // still in its own namespace
		return fmt.Errorf("enter network namespace %s: %w", h.Name, err)
	}
	fnErr := fn()
	if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
		return errors.Join(fnErr, fmt.Errorf("leave network namespace %s: %w", h.Name, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Listen opens a stream listener ("tcp", "tcp4") inside the host on its address and port (0 picks one).
func (h *Host) Listen(network string, port int) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen(network, h.hostPort(port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s in test host %s: %w", network, h.Name, err)
	}
	return ln, nil
}

// ListenPacket opens a packet socket ("udp", "udp4") inside the host on its address and port.
func (h *Host) ListenPacket(network string, port int) (net.PacketConn, error) {
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, h.hostPort(port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s in test host %s: %w", network, h.Name, err)
	}
	return pc, nil
}

// Dial connects from inside the host, as a client living on it would.
func (h *Host) Dial(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() error {
		var err error
		c, err = net.Dial(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s %s from test host %s: %w", network, addr, h.Name, err)
	}
	return c, nil
}

func (h *Host) hostPort(port int) string {
	return net.JoinHostPort(h.Addr.String(), strconv.Itoa(port))
}

// subnetAt is the idx-th /30 of hostRange.
func subnetAt(idx int) netip.Prefix {
	base := hostRange.Masked().Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(idx) << 2
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
}

// routedPrefixes are the destinations of every IPv4 route of the test's namespace, in every table.
func routedPrefixes() ([]netip.Prefix, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return parseRoutes(string(out)), nil
}

// isRouteType reports whether word is a route type `ip route` prints before a route's destination.
func isRouteType(word string) bool {
	switch word {
	case "unicast", "local", "broadcast", "multicast", "anycast", "unreachable", "blackhole", "prohibit", "throw", "nat":
		return true
	}
	return false
}

// parseRoutes reads the destinations of `ip -4 route show` lines; "default" routes overlap nothing
// here (a more specific connected route wins over them).
func parseRoutes(out string) []netip.Prefix {
	var prefixes []netip.Prefix
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) > 1 && isRouteType(fields[0]) {
			fields = fields[1:]
		}
		if len(fields) == 0 || fields[0] == "default" {
			continue
		}
		if p, err := netip.ParsePrefix(fields[0]); err == nil {
			prefixes = append(prefixes, p.Masked())
		} else if a, err := netip.ParseAddr(fields[0]); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return prefixes
}

func overlapsAny(p netip.Prefix, prefixes []netip.Prefix) bool {
	for _, q := range prefixes {
		if p.Overlaps(q) {
			return true
		}
	}
	return false
}
