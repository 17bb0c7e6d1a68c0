package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run measured.
type wrkResult struct {
	Requests  int64
	PerSecond float64
	P50, P99  time.Duration
	Errors    int64 // non-2xx/3xx responses and socket errors
}

// parseWrk reads the output of `wrk --latency`.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRate, haveCount bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "50%":
			r.P50 = parseWrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			r.P99 = parseWrkDuration(f[1])
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("parse wrk request count %q: %w", f[0], err)
			}
			r.Requests, haveCount = n, true
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("parse wrk rate %q: %w", f[1], err)
			}
			r.PerSecond, haveRate = v, true
		case len(f) >= 5 && f[0] == "Non-2xx":
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			r.Errors += n
		case len(f) > 2 && f[0] == "Socket" && f[1] == "errors:":
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				r.Errors += n
			}
		}
	}
	if !haveRate || !haveCount {
		return r, fmt.Errorf("parse wrk output: no request count or rate in %q", out)
	}
	return r, nil
}

// parseWrkDuration reads wrk's "812.00us", "1.23ms", "2.00s"; 0 when it cannot.
func parseWrkDuration(s string) time.Duration {
	for _, unit := range []struct {
		suffix string
		scale  float64
	}{{"us", 1e3}, {"ms", 1e6}, {"m", 60e9}, {"s", 1e9}} {
		if v, ok := strings.CutSuffix(s, unit.suffix); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return time.Duration(f * unit.scale)
			}
			return 0
		}
	}
	return 0
}
