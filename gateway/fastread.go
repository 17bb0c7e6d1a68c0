package gateway

import (
	"io"
	"net"
	"syscall"
)

// armedReader reads a TCP connection like net.Conn.Read, except that a read with an action set (the
// write the answer depends on: the request to an upstream, the response to a client) runs the action
// once the read is armed and then waits for the connection to be readable before its first read
// syscall. net.Conn.Read tries a read first, which right after such a write almost always finds
// nothing (EAGAIN) and costs a syscall per wait; arming before the write loses no wake-up, since the
// answer can only arrive after the write.
type armedReader struct {
	conn   net.Conn
	raw    syscall.RawConn // nil when conn has no file descriptor: plain reads
	before func() error    // the action of the next Read
	readFn func(fd uintptr) bool

	p   []byte
	n   int
	err error
}

func newArmedReader(conn net.Conn) *armedReader {
	r := &armedReader{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			r.raw = raw
		}
	}
	r.readFn = r.readFD // one method value per connection, not one per read
	return r
}

// arm makes the next Read run action first; an error of action is that Read's error.
func (r *armedReader) arm(action func() error) { r.before = action }

func (r *armedReader) Read(p []byte) (int, error) {
	if r.raw == nil {
		if err := r.runBefore(); err != nil {
			return 0, err
		}
		return r.conn.Read(p)
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.raw.Read(r.readFn)
	r.p = nil
	if r.before != nil { // the read failed before calling readFD (a deadline already passed)
		_ = r.runBefore()
	}
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}

func (r *armedReader) runBefore() error {
	if r.before == nil {
		return nil
	}
	action := r.before
	r.before = nil
	return action()
}

// readFD is the RawConn.Read callback: false means "wait until readable, then call again".
func (r *armedReader) readFD(fd uintptr) bool {
	if r.before != nil {
		if err := r.runBefore(); err != nil {
			r.err = err
			return true
		}
		return false
	}
	n, ready, err := readReady(fd, r.p, r.conn)
	if !ready {
		return false
	}
	r.n, r.err = n, err
	return true
}

// readReady reads a non-blocking socket once (again after EINTR) for a RawConn.Read callback: ready is
// false when there is nothing to read yet (EAGAIN); otherwise n bytes were read, or err is io.EOF or
// the read's error naming conn's peer.
func readReady(fd uintptr, p []byte, conn net.Conn) (n int, ready bool, err error) {
	for {
		n, err := rawRead(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, false, nil
		case err != nil:
			return 0, true, &net.OpError{Op: "read", Net: "tcp", Addr: conn.RemoteAddr(), Err: err}
		case n == 0:
			return 0, true, io.EOF
		}
		return n, true, nil
	}
}
