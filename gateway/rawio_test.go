package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRawConnWriter: writes larger than the socket buffers wait for the reader and arrive whole; a
// write deadline and a reset peer end a write with an error; a connection without a socket (net.Pipe)
// gets no raw writer.
func TestRawConnWriter(t *testing.T) {
	t.Parallel()
	t.Run("waits for a slow reader", func(t *testing.T) {
		t.Parallel()
		a, b := tcpPair(t)
		w, ok := newRawConnWriter(a)
		require.True(t, ok)
		payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB, far beyond the socket buffers
		got := make(chan []byte, 1)
		go func() {
			time.Sleep(100 * time.Millisecond)
			_ = b.SetReadDeadline(time.Now().Add(20 * time.Second))
			data, _ := io.ReadAll(b)
			got <- data
		}()
		n, err := w.Write(payload)
		require.NoError(t, err)
		assert.Equal(t, len(payload), n)
		require.NoError(t, a.CloseWrite())
		assert.True(t, bytes.Equal(payload, <-got), "the bytes arrive whole and in order")
	})
	t.Run("write deadline", func(t *testing.T) {
		t.Parallel()
		a, _ := tcpPair(t)
		w, ok := newRawConnWriter(a)
		require.True(t, ok)
		require.NoError(t, a.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
		n, err := w.Write(make([]byte, 64<<20)) // nobody reads
		require.Error(t, err)
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.Less(t, n, 64<<20)
	})
	t.Run("peer reset", func(t *testing.T) {
		t.Parallel()
		a, b := tcpPair(t)
		w, ok := newRawConnWriter(a)
		require.True(t, ok)
		require.NoError(t, b.SetLinger(0))
		require.NoError(t, b.Close()) // RST
		var err error
		for range 100 { // the first write may still be accepted before the reset arrives
			if _, err = w.Write([]byte("after the reset")); err != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		require.Error(t, err)
		var op *net.OpError
		assert.True(t, errors.As(err, &op), "a *net.OpError: %v", err)
	})
	t.Run("no socket", func(t *testing.T) {
		t.Parallel()
		a, b := net.Pipe()
		defer func() { _ = a.Close(); _ = b.Close() }()
		_, ok := newRawConnWriter(a)
		assert.False(t, ok)
	})
}
