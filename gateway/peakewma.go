package gateway

import (
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// PeakEWMA picks, of two upstreams drawn at random, the one with the lower expected cost: its peak EWMA
// of response-header latency times its requests in flight plus one. The latency (Upstream.ewma) jumps up
// to a slower response at once and decays towards faster ones, so a slowing upstream sheds load fast.
// An upstream without a measure yet costs nothing, so it gets tried.
type PeakEWMA struct{}

// Pick returns the cheaper of two random upstreams.
func (PeakEWMA) Pick(upstreams []*Upstream, _ *http.Request) *Upstream {
	switch n := len(upstreams); n {
	case 0:
		return nil
	case 1:
		return upstreams[0]
	default:
		i := rand.IntN(n)
		j := rand.IntN(n - 1)
		if j >= i {
			j++
		}
		a, b := upstreams[i], upstreams[j]
		if b.cost() < a.cost() {
			return b
		}
		return a
	}
}

func (u *Upstream) cost() float64 {
	return float64(u.ewma.value.Load()) * float64(u.Inflight()+1)
}

// ewmaDecay is the time constant of the latency average: a measure weighs 1/e after this long.
const ewmaDecay = 10 * time.Second

// ewma is a peak exponentially weighted moving average of latencies, in nanoseconds. Concurrent
// observations may lose one another's update; that only blurs an estimate.
type ewma struct {
	value atomic.Int64 // nanoseconds
	stamp atomic.Int64 // unix nanoseconds of the last observation
}

// observe adds one latency measured at now.
func (e *ewma) observe(latency time.Duration, now time.Time) {
	rtt, t := int64(latency), now.UnixNano()
	prev, last := e.value.Load(), e.stamp.Swap(t)
	if prev == 0 || rtt > prev {
		e.value.Store(rtt) // the peak: slower answers count at once
		return
	}
	w := math.Exp(-float64(max(t-last, 0)) / float64(ewmaDecay))
	e.value.Store(int64(float64(prev)*w + float64(rtt)*(1-w)))
}
