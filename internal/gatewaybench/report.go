package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// report prints the medians of the rounds and the gateway/nginx ratios.
func report(w io.Writer, httpTargets []target, httpSamples map[string][]httpSample,
	tcpTargets []target, tcpSamples map[string][]tcpSample) {
	type httpMedian struct {
		rate     float64
		p50, p99 time.Duration
		cpu, all time.Duration
		busy     float64
	}
	medians := make(map[string]httpMedian)
	fmt.Fprintln(w, "\nHTTP, median of the rounds (CPU/req is the utime+stime of that process, nginx: master and workers;")
	fmt.Fprintln(w, "all: wrk + backend + proxy; busy: their share of the machine's CPUs)")
	fmt.Fprintf(w, "  %-17s %10s %10s %10s %10s %10s %6s\n", "target", "req/s", "p50", "p99", "CPU/req", "all/req", "busy")
	for _, t := range httpTargets {
		s := httpSamples[t.name]
		m := httpMedian{
			rate: median(s, func(x httpSample) float64 { return x.PerSecond }),
			p50:  time.Duration(median(s, func(x httpSample) float64 { return float64(x.P50) })),
			p99:  time.Duration(median(s, func(x httpSample) float64 { return float64(x.P99) })),
			cpu:  time.Duration(median(s, func(x httpSample) float64 { return float64(x.cpuPerRequest) })),
			all:  time.Duration(median(s, func(x httpSample) float64 { return float64(x.allPerRequest) })),
			busy: median(s, func(x httpSample) float64 { return x.busy }),
		}
		medians[t.name] = m
		fmt.Fprintf(w, "  %-17s %10.0f %10s %10s %10s %10s %6.2f\n", t.name, m.rate, m.p50.Round(time.Microsecond),
			m.p99.Round(time.Microsecond), m.cpu.Round(100*time.Nanosecond), m.all.Round(100*time.Nanosecond), m.busy)
	}
	for _, pair := range [][2]string{{"gateway", "nginx"}, {"gateway-accesslog", "gateway"}, {"gateway-https", "nginx-https"}} {
		g, n := medians[pair[0]], medians[pair[1]]
		if n.rate == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s/%s: req/s %.2f  p50 %.2f  p99 %.2f  CPU/req %.2f\n", pair[0], pair[1],
			g.rate/n.rate, ratio(g.p50, n.p50), ratio(g.p99, n.p99), ratio(g.cpu, n.cpu))
	}

	fmt.Fprintln(w, "\nTCP, median of the rounds (CPU/GB: utime+stime of the proxy per 10^9 bytes)")
	fmt.Fprintf(w, "  %-12s %10s %10s\n", "target", "MB/s", "CPU/GB")
	type tcpMedian struct {
		rate float64
		cpu  time.Duration
	}
	tcp := make(map[string]tcpMedian)
	for _, t := range tcpTargets {
		s := tcpSamples[t.name]
		m := tcpMedian{
			rate: median(s, func(x tcpSample) float64 { return x.mbPerSecond }),
			cpu:  time.Duration(median(s, func(x tcpSample) float64 { return float64(x.cpuPerGB) })),
		}
		tcp[t.name] = m
		fmt.Fprintf(w, "  %-12s %10.0f %10s\n", t.name, m.rate, m.cpu.Round(time.Millisecond))
	}
	gt, nt := tcp["gateway-l4"], tcp["nginx-stream"]
	fmt.Fprintf(w, "  gateway/nginx: MB/s %.2f  CPU/GB %.2f\n", gt.rate/nt.rate, ratio(gt.cpu, nt.cpu))
}

func median[T any](samples []T, value func(T) float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	vs := make([]float64, 0, len(samples))
	for _, s := range samples {
		vs = append(vs, value(s))
	}
	slices.SortFunc(vs, cmp.Compare[float64])
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
