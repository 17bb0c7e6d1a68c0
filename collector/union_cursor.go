package collector

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
)

// A union cursor is "u." and the base64 of a JSON object of member name → that member's own cursor
// ("" or absent: its start), then a checksum binding it to the stream. Plain cursors have no '.', so
// the two never mix up.
const unionCursorPrefix = "u."

func encodeUnionCursor(key StreamKey, cursors map[string]string) string {
	b, _ := json.Marshal(cursors) // a map of strings always encodes
	b = binary.BigEndian.AppendUint32(b, cursorSum(key, b))
	return unionCursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// decodeUnionCursor returns the members' cursors of a union cursor; "" is the start of every member.
func decodeUnionCursor(key StreamKey, s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	rest, ok := strings.CutPrefix(s, unionCursorPrefix)
	if !ok {
		return nil, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) < 4 {
		return nil, errBadCursor
	}
	body := b[:len(b)-4]
	if binary.BigEndian.Uint32(b[len(b)-4:]) != cursorSum(key, body) || json.Unmarshal(body, &out) != nil {
		return nil, errBadCursor
	}
	return out, nil
}

// isUnionCursor says whether s is a union cursor (of a read through several members).
func isUnionCursor(s string) bool { return strings.HasPrefix(s, unionCursorPrefix) }
