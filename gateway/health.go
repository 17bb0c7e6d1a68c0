package gateway

import "time"

// PassiveHealth is how the gateway learns from proxied requests that an upstream is down: after
// EjectAfter consecutive failures (it could not be dialed, or the exchange broke before an answer) it is
// ejected for EjectFor, during which the balancer skips it unless every upstream of the backend is
// ejected. After the cool-off one request tries it again: a success clears the count, a failure ejects
// it again. The state is in the Upstream, in the Pool, so a snapshot swap does not reset it.
type PassiveHealth struct {
	// EjectAfter is the number of consecutive failures that eject an upstream. Default 3.
	EjectAfter int
	// EjectFor is how long an ejected upstream is skipped. Default 10s.
	EjectFor time.Duration
}

// Defaults of PassiveHealth.
const (
	DefaultEjectAfter = 3
	DefaultEjectFor   = 10 * time.Second
)

func (h PassiveHealth) withDefaults() PassiveHealth {
	if h.EjectAfter <= 0 {
		h.EjectAfter = DefaultEjectAfter
	}
	if h.EjectFor <= 0 {
		h.EjectFor = DefaultEjectFor
	}
	return h
}

// Ejected reports whether the upstream is being skipped at now.
func (u *Upstream) Ejected(now time.Time) bool {
	until := u.ejectedUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// failed counts a failure, ejecting the upstream when they reach EjectAfter in a row.
func (u *Upstream) failed(now time.Time) {
	if int(u.fails.Add(1)) >= u.health.EjectAfter {
		u.ejectedUntil.Store(now.Add(u.health.EjectFor).UnixNano())
	}
}

// succeeded clears the failure count and any ejection.
func (u *Upstream) succeeded() {
	if u.fails.Load() != 0 {
		u.fails.Store(0)
	}
	if u.ejectedUntil.Load() != 0 {
		u.ejectedUntil.Store(0)
	}
}
