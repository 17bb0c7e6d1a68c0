package gateway

import (
	"bufio"
	"io"
	"net"
	"sync"
	"time"
)

// upConn is one fast-path connection to an upstream with its buffers, kept between requests while the
// upstream keeps it alive.
type upConn struct {
	conn      net.Conn
	rd        *armedReader // under br
	flush     func() error // bw.Flush, armed on rd to send a request
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	buffers   *fastBuffers
}

// Limits of the upstream keep-alive pool.
const (
	maxIdlePerUpstream = 256
	upstreamIdleFor    = 90 * time.Second // a connection idle longer is closed, not reused
	upstreamKeepAlive  = 30 * time.Second // TCP keep-alive probes
	fastBufferSize     = 16 << 10         // bufio size of client and upstream connections: the largest head the fast path takes
)

// idleConns is an upstream's idle keep-alive connections, most recently used last.
type idleConns struct {
	mu    sync.Mutex
	conns []*upConn
}

// get returns the most recently used idle connection, nil when there is none fresh enough; the stale
// ones it meets are closed.
func (ic *idleConns) get(now time.Time) *upConn {
	ic.mu.Lock()
	for n := len(ic.conns); n > 0; n = len(ic.conns) {
		c := ic.conns[n-1]
		ic.conns[n-1] = nil
		ic.conns = ic.conns[:n-1]
		if now.Sub(c.idleSince) < upstreamIdleFor {
			ic.mu.Unlock()
			return c
		}
		ic.mu.Unlock()
		c.close()
		ic.mu.Lock()
	}
	ic.mu.Unlock()
	return nil
}

// put keeps c for a later request, or closes it when the pool is full.
func (ic *idleConns) put(c *upConn, now time.Time) {
	c.idleSince = now
	ic.mu.Lock()
	if len(ic.conns) < maxIdlePerUpstream {
		ic.conns = append(ic.conns, c)
		ic.mu.Unlock()
		return
	}
	ic.mu.Unlock()
	c.close()
}

// closeAll closes every idle connection.
func (ic *idleConns) closeAll() {
	ic.mu.Lock()
	conns := ic.conns
	ic.conns = nil
	ic.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// dialUpstream connects to addr within timeout (the default connect timeout when 0).
func dialUpstream(addr string, timeout time.Duration, buffers *fastBuffers) (*upConn, error) {
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: upstreamKeepAlive}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	uc := &upConn{conn: conn, rd: newArmedReader(conn), bw: buffers.writer(conn), buffers: buffers}
	uc.br = buffers.reader(uc.rd)
	uc.flush = uc.bw.Flush
	return uc, nil
}

// close closes the connection and recycles its buffers.
func (c *upConn) close() {
	_ = c.conn.Close()
	if c.br != nil {
		c.buffers.putReader(c.br)
		c.buffers.putWriter(c.bw)
		c.br, c.bw = nil, nil
	}
}

// fastBuffers recycles the bufio readers and writers of client and upstream connections.
type fastBuffers struct {
	readers, writers, copies sync.Pool
}

func (b *fastBuffers) reader(r io.Reader) *bufio.Reader {
	if br, ok := b.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, fastBufferSize)
}

func (b *fastBuffers) writer(conn net.Conn) *bufio.Writer {
	var w io.Writer = conn
	if rw, ok := newRawConnWriter(conn); ok {
		w = rw
	}
	if bw, ok := b.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, fastBufferSize)
}

func (b *fastBuffers) putReader(br *bufio.Reader) { br.Reset(nil); b.readers.Put(br) }
func (b *fastBuffers) putWriter(bw *bufio.Writer) { bw.Reset(nil); b.writers.Put(bw) }

// copyBuffer returns a body copy buffer; give it back with putCopyBuffer.
func (b *fastBuffers) copyBuffer() *[]byte {
	if p, ok := b.copies.Get().(*[]byte); ok {
		return p
	}
	buf := make([]byte, 32<<10)
	return &buf
}

func (b *fastBuffers) putCopyBuffer(p *[]byte) { b.copies.Put(p) }
