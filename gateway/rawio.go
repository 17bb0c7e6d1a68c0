package gateway

import (
	"net"
	"syscall"
	"unsafe"
)

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket without the runtime's
// system-call bookkeeping (entersyscall/exitsyscall): such a call never blocks, so the P need not be
// handed off, and sysmon finds none in a system call to retake.
func rawRead(fd int, p []byte) (int, error)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2) (trap) of p on fd.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawConnWriter writes to a TCP connection with rawWrite, waiting for writability through the
// runtime's poller (and the connection's write deadline) when the socket buffer is full.
type rawConnWriter struct {
	conn    net.Conn
	raw     syscall.RawConn
	p       []byte
	n       int
	err     error
	writeFn func(fd uintptr) bool
}

func newRawConnWriter(conn net.Conn) (*rawConnWriter, bool) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return nil, false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil, false
	}
	w := &rawConnWriter{conn: conn, raw: raw}
	w.writeFn = w.writeFD
	return w, true
}

func (w *rawConnWriter) Write(p []byte) (int, error) {
	w.p, w.n, w.err = p, 0, nil
	err := w.raw.Write(w.writeFn)
	w.p = nil
	if err != nil {
		return w.n, err
	}
	return w.n, w.err
}

func (w *rawConnWriter) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
		n, err := rawWrite(int(fd), w.p[w.n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			w.err = &net.OpError{Op: "write", Net: "tcp", Addr: w.conn.RemoteAddr(), Err: err}
			return true
		}
		w.n += n
	}
	return true
}
