package gateway

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"net/http"
	"unsafe"
)

// HeaderRequestID carries the id that ties one request's log lines together across the gateway and
// the component that served it.
const HeaderRequestID = "X-Request-ID"

// withRequestID keeps a client's X-Request-ID when it is sane (1 to 128 visible ASCII characters) and
// sets a random one otherwise, on the request passed on and on the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = rand.Text()
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r)
	})
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// requestIDs makes the request ids of one fast-path connection. An id looks like rand.Text's: 26
// characters of base32 (A-Z, 2-7) holding 128 random bits, a valid token. The bits come from a ChaCha8
// stream (a cryptographically secure generator, math/rand/v2) seeded with 32 bytes of crypto/rand when
// the connection makes its first id: ids stay unique (collisions as unlikely as rand.Text's) and
// unguessable from other ids, without rand.Text's getrandom call per id (BenchmarkRequestID: 76-134 ns
// and 1 allocation; rand.Text 344-676 ns, both on the loaded bench machine). Not safe for concurrent use:
// one per connection.
type requestIDs struct {
	src *mrand.ChaCha8
	buf [26]byte // nextInPlace's
}

// requestIDAlphabet is rand.Text's (RFC 4648 base32).
const requestIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// next returns a new request id.
func (g *requestIDs) next() string {
	var b [26]byte
	g.fill(&b)
	return string(b[:])
}

// nextInPlace returns a new request id that is valid only until the next call: its bytes are g's.
func (g *requestIDs) nextInPlace() string {
	g.fill(&g.buf)
	return unsafe.String(&g.buf[0], len(g.buf))
}

func (g *requestIDs) fill(b *[26]byte) {
	if g.src == nil {
		var seed [32]byte
		_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails (it crashes the program instead)
		g.src = mrand.NewChaCha8(seed)
	}
	x, y := g.src.Uint64(), g.src.Uint64()
	for i := 0; i < 12; i++ { // 60 bits of each word, then their last 4 bits in one character each
		b[i], b[12+i] = requestIDAlphabet[x&31], requestIDAlphabet[y&31]
		x, y = x>>5, y>>5
	}
	b[24], b[25] = requestIDAlphabet[x], requestIDAlphabet[y]
}
