package gateway

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// The TCP routes copy through user space, not splice(2). Measured on loopback (make bench-gateway, and
// side by side in one run): io.Copy's splice costs the proxy least (~0.3 CPU-s a GB) but the reader of
// spliced data pays ~2.5× as much to receive it (1.3–1.7 against 0.6–0.7 CPU-s a GB), so the stream
// as a whole ran at nginx's 16 KiB read/write speed (0.8–0.9 GB/s), while reads of up to 1 MiB and
// plain writes ran at 1.2–1.5 GB/s with ~0.45 CPU-s a GB in the proxy.

// Sizes of the relay's read buffers: a connection reads into a small one, and into a large one once a
// read filled the small one (a bulk stream); fewer, larger reads and writes are most of the speed.
const (
	relaySmallBuffer = 64 << 10
	relayLargeBuffer = 1 << 20
)

// relayBuffers lends the TCP relay its read buffers. A connection holds one only while bytes flow: it
// gives it back when a read finds nothing to read, so idle connections hold none. Large buffers are
// bounded (a writer blocked on a slow peer keeps its buffer): beyond the budget a stream reads into a
// small one.
type relayBuffers struct {
	small, large sync.Pool
	largeSlots   chan struct{} // a token per large buffer lent out
}

func newRelayBuffers(maxLarge int) *relayBuffers {
	return &relayBuffers{
		small:      sync.Pool{New: func() any { b := make([]byte, relaySmallBuffer); return &b }},
		large:      sync.Pool{New: func() any { b := make([]byte, relayLargeBuffer); return &b }},
		largeSlots: make(chan struct{}, maxLarge),
	}
}

// get lends a buffer, a large one when wantLarge and the budget allows.
func (p *relayBuffers) get(wantLarge bool) *[]byte {
	if wantLarge {
		select {
		case p.largeSlots <- struct{}{}:
			return p.large.Get().(*[]byte)
		default:
		}
	}
	return p.small.Get().(*[]byte)
}

// put takes a buffer back.
func (p *relayBuffers) put(b *[]byte) {
	if len(*b) == relayLargeBuffer {
		p.large.Put(b)
		<-p.largeSlots
		return
	}
	p.small.Put(b)
}

// relay copies src to dst until src ends (io.EOF is not an error) or either fails. It waits for src to
// be readable without holding a buffer, reads into a lent one, and writes what it read to dst.
type relay struct {
	buffers *relayBuffers
	src     net.Conn
	raw     syscall.RawConn
	buf     *[]byte
	grow    bool // the last read filled a small buffer: take a large one next
	readFn  func(fd uintptr) bool

	n   int
	err error
}

func copyRelay(dst, src *net.TCPConn, buffers *relayBuffers) (int64, error) {
	raw, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	r := &relay{buffers: buffers, src: src, raw: raw}
	r.readFn = r.readFD
	var out io.Writer = dst
	if w, ok := newRawConnWriter(dst); ok {
		out = w
	}
	defer r.release()
	var total int64
	for {
		r.n, r.err = 0, nil
		if err := r.raw.Read(r.readFn); err != nil {
			return total, err
		}
		if r.err == io.EOF {
			return total, nil
		}
		if r.err != nil {
			return total, r.err
		}
		n, err := out.Write((*r.buf)[:r.n])
		total += int64(n)
		if err != nil {
			return total, err
		}
		if r.n == len(*r.buf) && len(*r.buf) < relayLargeBuffer {
			r.grow = true
			r.release()
		}
	}
}

// release gives the buffer back, if the relay holds one.
func (r *relay) release() {
	if r.buf != nil {
		r.buffers.put(r.buf)
		r.buf = nil
	}
}

// readFD is the RawConn.Read callback: false means "wait until readable, then call again". Nothing to
// read gives the buffer back before the wait, and ends a bulk stretch.
func (r *relay) readFD(fd uintptr) bool {
	if r.buf == nil {
		r.buf = r.buffers.get(r.grow)
	}
	n, ready, err := readReady(fd, *r.buf, r.src)
	if !ready {
		r.release()
		r.grow = false
		return false
	}
	r.n, r.err = n, err
	return true
}
