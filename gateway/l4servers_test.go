package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Loopback servers and clients of the L4 tests.

// tcpNameServer answers every line of every connection with "<name>: <line>", until the test ends.
func tcpNameServer(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go serveNameLines(ln, name)
	return ln.Addr().String()
}

// tcpAsk sends one line on a new connection and returns the answer line.
func tcpAsk(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	return tcpLine(t, c, bufio.NewReader(c), msg)
}

// tcpLine sends one line on an open connection and returns the answer line.
func tcpLine(t *testing.T, c net.Conn, r *bufio.Reader, msg string) string {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := io.WriteString(c, msg+"\n")
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

// udpNameServer answers every datagram with "<name>: <datagram>", until the test ends.
func udpNameServer(t *testing.T, name string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	go serveNameDatagrams(c, name)
	return c.LocalAddr().String()
}

// udpClient is a UDP socket connected to addr, closed when the test ends.
func udpClient(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// udpAsk sends one datagram and returns the answer.
func udpAsk(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	require.NoError(t, err)
	return string(buf[:n])
}

// serveNameLines answers every line of every connection with "<name>: <line>" until ln is closed.
func serveNameLines(ln net.Listener, name string) {
	acceptEach(ln, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, name+": "+line); err != nil {
				return
			}
		}
	})
}

// serveNameDatagrams answers every datagram with "<name>: <datagram>" until pc is closed.
func serveNameDatagrams(pc net.PacketConn, name string) {
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err == nil {
			_, _ = pc.WriteTo([]byte(name+": "+string(buf[:n])), from)
		}
	}
}

// acceptEach runs handle on every connection of ln, each in its own goroutine and closed after it,
// until ln is closed.
func acceptEach(ln net.Listener, handle func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			handle(c)
		}()
	}
}
