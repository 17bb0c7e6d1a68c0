package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// errHeadTooLarge is a head that does not fit the connection's buffer.
var errHeadTooLarge = errors.New("message head larger than the buffer")

// errChunkMalformed is a chunked body the fast path cannot frame.
var errChunkMalformed = errors.New("malformed chunked body")

// headEnd returns the length of the message head at the start of buf, up to and including its empty
// line (CRLF CRLF, or a bare LF the parser then leaves to net/http), 0 when buf does not hold it all.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
}

// peekHead waits until br holds a whole message head and returns its length; wait, when not nil, is
// called once before the first read beyond what br already holds (to set a header deadline).
func peekHead(br *bufio.Reader, wait func()) (int, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if n := headEnd(buf); n > 0 {
			return n, nil
		}
		if len(buf) >= br.Size() {
			return 0, errHeadTooLarge
		}
		if wait != nil {
			wait()
			wait = nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// flushingCopy copies n bytes (until EOF when n < 0) from src to dst through buf, flushing dst whenever
// src has nothing buffered, so a slow stream reaches the client as it comes. It returns the bytes
// written; an early EOF of a sized body is io.ErrUnexpectedEOF.
func flushingCopy(dst *bufio.Writer, src *bufio.Reader, n int64, buf []byte) (int64, error) {
	var written int64
	for n < 0 || written < n {
		if src.Buffered() == 0 && dst.Buffered() > 0 {
			if err := dst.Flush(); err != nil {
				return written, writeError{err}
			}
		}
		chunk := buf
		if n >= 0 && int64(len(chunk)) > n-written {
			chunk = chunk[:n-written]
		}
		r, err := src.Read(chunk)
		if r > 0 {
			if _, werr := dst.Write(chunk[:r]); werr != nil {
				return written, writeError{werr}
			}
			written += int64(r)
		}
		if err == io.EOF && n < 0 {
			return written, nil
		}
		if err == io.EOF {
			return written, io.ErrUnexpectedEOF
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// writeError marks a failure writing to dst in a copy, to tell it from a failure reading src.
type writeError struct{ err error }

func (e writeError) Error() string { return "write: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// copyChunked relays a chunked body from src to dst, re-framed (chunk extensions dropped): chunk by
// chunk, then the trailer section when keepTrailers, else an empty one. It returns the data bytes.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, buf []byte, keepTrailers bool) (int64, error) {
	var written int64
	for {
		if src.Buffered() == 0 && dst.Buffered() > 0 {
			if err := dst.Flush(); err != nil {
				return written, writeError{err}
			}
		}
		line, err := readLine(src)
		if err != nil {
			return written, err
		}
		size, ok := chunkSize(line)
		if !ok {
			return written, errChunkMalformed
		}
		if _, err := dst.Write(append(strconv.AppendInt(dst.AvailableBuffer(), size, 16), '\r', '\n')); err != nil {
			return written, writeError{err}
		}
		if size == 0 {
			return written, copyTrailers(dst, src, keepTrailers)
		}
		n, err := flushingCopy(dst, src, size, buf)
		written += n
		if err != nil {
			return written, err
		}
		if line, err = readLine(src); err != nil || len(line) != 0 {
			return written, errChunkMalformed
		}
		if _, err := dst.WriteString("\r\n"); err != nil {
			return written, writeError{err}
		}
	}
}

// copyTrailers reads the trailer section up to its empty line, writing it to dst when keep.
func copyTrailers(dst *bufio.Writer, src *bufio.Reader, keep bool) error {
	for {
		line, err := readLine(src)
		if err != nil {
			return err
		}
		if len(line) > 0 && keep {
			if _, err := dst.Write(line); err != nil {
				return writeError{err}
			}
			if _, err := dst.WriteString("\r\n"); err != nil {
				return writeError{err}
			}
		}
		if len(line) == 0 {
			if _, err := dst.WriteString("\r\n"); err != nil {
				return writeError{err}
			}
			return nil
		}
	}
}

// readLine returns one CRLF-terminated line without its CRLF, valid until the next read of src.
func readLine(src *bufio.Reader) ([]byte, error) {
	line, err := src.ReadSlice('\n')
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errChunkMalformed
	}
	return line[:len(line)-2], nil
}

// chunkSize reads a chunk-size line (hex digits, then optional extensions after ';').
func chunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
