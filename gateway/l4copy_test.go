package gateway

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpPair is the two ends of one loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, _ := ln.AcceptTCP()
		accepted <- c
	}()
	dialed, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	require.NoError(t, err)
	other := <-accepted
	require.NotNil(t, other)
	t.Cleanup(func() { _ = dialed.Close(); _ = other.Close() })
	return dialed, other
}

// TestCopyRelayBulk: a bulk stream arrives intact, takes a large buffer while a slow reader keeps its
// writer waiting, and gives it back by the end; EOF ends the copy without an error.
func TestCopyRelayBulk(t *testing.T) {
	t.Parallel()
	sender, src := tcpPair(t)
	dst, receiver := tcpPair(t)
	buffers := newRelayBuffers(1)
	payload := make([]byte, 24<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := copyRelay(dst, src, buffers)
		_ = dst.CloseWrite()
		done <- result{n, err}
	}()
	go func() {
		_, _ = sender.Write(payload)
		_ = sender.CloseWrite()
	}()
	// The receiver reads slowly at first, so the relay keeps waiting in its writes while the sender's
	// bytes pile up behind it: a 64 KiB read then comes back full, and the next read takes the large
	// buffer (held while the write waits). Once that is seen the receiver reads at full speed.
	var grown atomic.Bool
	got := sha256.New()
	received := make(chan error, 1)
	go func() {
		_ = receiver.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 64<<10)
		for {
			n, err := receiver.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				received <- nil
				return
			}
			if err != nil {
				received <- err
				return
			}
			if !grown.Load() {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	require.Eventually(t, func() bool { return len(buffers.largeSlots) == 1 }, 20*time.Second, time.Millisecond,
		"a bulk stream reads into a large buffer")
	grown.Store(true)
	require.NoError(t, <-received)
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, int64(len(payload)), r.n)
	assert.Equal(t, sha256.Sum256(payload), [32]byte(got.Sum(nil)), "the bytes arrive intact and in order")
	assert.Zero(t, len(buffers.largeSlots), "the large buffer is given back")
}

// TestCopyRelayIdleHoldsNoBuffer: between bursts a connection waits for readability without a buffer:
// a bulk burst gives its large buffer back once the source has nothing more to read, and small
// exchanges after it do not take one.
func TestCopyRelayIdleHoldsNoBuffer(t *testing.T) {
	t.Parallel()
	sender, src := tcpPair(t)
	dst, receiver := tcpPair(t)
	buffers := newRelayBuffers(4)
	done := make(chan error, 1)
	go func() {
		_, err := copyRelay(dst, src, buffers)
		done <- err
	}()
	burst := make([]byte, 8<<20)
	go func() { _, _ = sender.Write(burst) }()
	require.NoError(t, receiver.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err := io.ReadFull(receiver, make([]byte, len(burst)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(buffers.largeSlots) == 0 }, 5*time.Second, 5*time.Millisecond,
		"an idle connection gives its large buffer back")

	buf := make([]byte, 64)
	for i := range 5 {
		msg := []byte{'m', byte('0' + i)}
		_, err := sender.Write(msg)
		require.NoError(t, err)
		require.NoError(t, receiver.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := io.ReadAtLeast(receiver, buf, len(msg))
		require.NoError(t, err)
		assert.Equal(t, msg, buf[:n])
		assert.Zero(t, len(buffers.largeSlots))
	}
	require.NoError(t, sender.CloseWrite())
	require.NoError(t, <-done)
}

// TestCopyRelayReset: a reset of the source ends the copy with an error.
func TestCopyRelayReset(t *testing.T) {
	t.Parallel()
	sender, src := tcpPair(t)
	dst, _ := tcpPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := copyRelay(dst, src, newRelayBuffers(1))
		done <- err
	}()
	_, err := sender.Write([]byte("partial"))
	require.NoError(t, err)
	require.NoError(t, sender.SetLinger(0))
	require.NoError(t, sender.Close()) // RST
	select {
	case err := <-done:
		require.Error(t, err)
		assert.ErrorContains(t, err, "connection reset")
	case <-time.After(5 * time.Second):
		t.Fatal("the copy did not end on a reset")
	}
}
