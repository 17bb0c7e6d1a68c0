package collector

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// position is a place in a stream: a segment and a record boundary in it.
type position struct {
	segment uint64
	offset  int64
}

// A cursor is an opaque token for a position: segment, offset and a checksum binding them to the
// stream, so a cursor of another stream or a mangled one is refused instead of read from.

const cursorBytes = 8 + 8 + 4

var errBadCursor = errors.New("cursor is not one this stream returned")

func encodeCursor(key StreamKey, p position) string {
	var b [cursorBytes]byte
	binary.BigEndian.PutUint64(b[0:], p.segment)
	binary.BigEndian.PutUint64(b[8:], uint64(p.offset))
	binary.BigEndian.PutUint32(b[16:], cursorSum(key, b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(key StreamKey, s string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorBytes || binary.BigEndian.Uint32(b[16:]) != cursorSum(key, b[:16]) {
		return position{}, errBadCursor
	}
	p := position{segment: binary.BigEndian.Uint64(b[0:]), offset: int64(binary.BigEndian.Uint64(b[8:]))}
	if p.segment == 0 || p.offset < 0 {
		return position{}, errBadCursor
	}
	return p, nil
}

func cursorSum(key StreamKey, b []byte) uint32 {
	h := crc32.New(castagnoli)
	_, _ = h.Write([]byte(key.String()))
	_, _ = h.Write(b)
	return h.Sum32()
}
