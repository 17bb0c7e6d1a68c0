package gateway

import (
	"errors"
	"fmt"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// L4Config is what the TCP and UDP side of the gateway needs. Zero fields take their defaults.
type L4Config struct {
	// Host is the address (or host name) the TCP and UDP routes listen on, each on its route's port.
	// Default 127.0.0.1; "0.0.0.0" or "::" listens on every address.
	Host string
	// DialTimeout bounds one connection attempt to an endpoint; a failed attempt tries the next
	// endpoint. Default 5s.
	DialTimeout time.Duration
	// EndpointWait is how long a TCP connection accepted while its route has no ready endpoint (a
	// Service seen before its EndpointSlice, a rollout with no pod ready) waits for one before it is
	// closed; it is closed at once when the route is removed. A new UDP client's first datagrams wait
	// as long, held in a bounded buffer (UDPWaitDatagrams, UDPWaitBytes), then are dropped. Default 5s.
	EndpointWait time.Duration
	// UDPIdleTimeout ends a UDP session (one client address) that sent and received nothing for this
	// long. Default 60s.
	UDPIdleTimeout time.Duration
	// UDPMaxSessions bounds the sessions of one UDP route; datagrams of new clients beyond it are
	// dropped. Default 4096.
	UDPMaxSessions int
	// UDPWaitDatagrams and UDPWaitBytes bound the datagrams held for one new UDP client while its route
	// has no ready endpoint; they are sent in order once one appears, and those beyond are dropped.
	// Default 16 datagrams and 64 KiB.
	UDPWaitDatagrams int
	UDPWaitBytes     int
	// UDPMaxWaiting bounds the clients of one UDP route waiting for an endpoint at once (they count as
	// sessions too); the datagrams of others are dropped. Default 256.
	UDPMaxWaiting int
	// TCPLargeBuffers bounds the 1 MiB read buffers the TCP routes lend to bulk streams at once (a
	// stream whose read filled its 64 KiB buffer); beyond it streams read 64 KiB at a time. A
	// connection holds a buffer only while bytes flow. Default 64 (64 MiB).
	TCPLargeBuffers int
}

// Defaults of L4Config.
const (
	DefaultL4Host           = "127.0.0.1"
	DefaultL4DialTimeout    = 5 * time.Second
	DefaultL4EndpointWait   = 5 * time.Second
	DefaultUDPIdleTimeout   = 60 * time.Second
	DefaultUDPMaxSessions   = 4096
	DefaultUDPWaitDatagrams = 16
	DefaultUDPWaitBytes     = 64 << 10
	DefaultUDPMaxWaiting    = 256
	DefaultTCPLargeBuffers  = 64
)

func (c L4Config) withDefaults() L4Config {
	if c.Host == "" {
		c.Host = DefaultL4Host
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultL4DialTimeout
	}
	if c.EndpointWait == 0 {
		c.EndpointWait = DefaultL4EndpointWait
	}
	if c.UDPIdleTimeout == 0 {
		c.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if c.UDPMaxSessions == 0 {
		c.UDPMaxSessions = DefaultUDPMaxSessions
	}
	if c.UDPWaitDatagrams == 0 {
		c.UDPWaitDatagrams = DefaultUDPWaitDatagrams
	}
	if c.UDPWaitBytes == 0 {
		c.UDPWaitBytes = DefaultUDPWaitBytes
	}
	if c.UDPMaxWaiting == 0 {
		c.UDPMaxWaiting = DefaultUDPMaxWaiting
	}
	if c.TCPLargeBuffers == 0 {
		c.TCPLargeBuffers = DefaultTCPLargeBuffers
	}
	return c
}

// Validate says what is wrong with the config, after defaults are applied.
func (c L4Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if net.ParseIP(c.Host) == nil && len(validation.IsDNS1123Subdomain(c.Host)) > 0 {
		errs = append(errs, fmt.Errorf("gateway L4 listen host %q is neither an IP address nor a host name", c.Host))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("gateway L4 dial timeout %s is negative", c.DialTimeout))
	}
	if c.EndpointWait < 0 {
		errs = append(errs, fmt.Errorf("gateway L4 endpoint wait %s is negative", c.EndpointWait))
	}
	if c.UDPIdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("gateway UDP idle timeout %s is negative", c.UDPIdleTimeout))
	}
	if c.UDPMaxSessions < 0 {
		errs = append(errs, fmt.Errorf("gateway UDP max sessions %d is negative", c.UDPMaxSessions))
	}
	if c.UDPWaitDatagrams < 0 || c.UDPWaitBytes < 0 || c.UDPMaxWaiting < 0 {
		errs = append(errs, fmt.Errorf("gateway UDP wait bounds (%d datagrams, %d bytes, %d clients) are negative",
			c.UDPWaitDatagrams, c.UDPWaitBytes, c.UDPMaxWaiting))
	}
	if c.TCPLargeBuffers < 0 {
		errs = append(errs, fmt.Errorf("gateway TCP large buffers %d is negative", c.TCPLargeBuffers))
	}
	return errors.Join(errs...)
}

// l4ConfigFor is the L4 side's config of a gateway: its routes listen on the host of the HTTP data
// plane (127.0.0.1 by default), so one --http-listen flag decides which addresses the gateway serves,
// and wait Config.L4EndpointWait for an endpoint.
func l4ConfigFor(cfg Config) L4Config {
	cfg = cfg.withDefaults()
	host, _, err := net.SplitHostPort(cfg.HTTPListen)
	switch {
	case err != nil: // Config.Validate rejects it first
		host = DefaultL4Host
	case host == "": // ":7481" listens on every address
		host = "0.0.0.0"
	}
	return L4Config{Host: host, EndpointWait: cfg.L4EndpointWait}.withDefaults()
}
