package gateway

import "net/http"

// Policy picks one of a backend's upstreams for a request, or nil when there is none. One tiny type per
// policy (round robin today; least-connections, hashing and weighted canaries are later issues); a
// policy's state lives in the Pool so a routing swap keeps it.
type Policy interface {
	Pick(upstreams []*Upstream, r *http.Request) *Upstream
}
