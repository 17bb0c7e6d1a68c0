package gateway

import (
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// routeCount is the size of the route-table benchmarks: 10,000 HTTP routes, one Ingress, Service and
// EndpointSlice (two ready endpoints) each, as the platform renders them.
const routeCount = 10_000

func manyRoutes(n int) Objects {
	var in Objects
	for i := range n {
		name := fmt.Sprintf("web-%d", i)
		ns := fmt.Sprintf("tenant-%d", i%100)
		in.Ingresses = append(in.Ingresses, ingress(ns, name,
			rule(name+".apps.example.com", httpPath("/", prefix, name, 80))))
		in.Services = append(in.Services, service(ns, name, "http", 80))
		in.EndpointSlices = append(in.EndpointSlices, slice(ns, name+"-abc", name, "http", 8080,
			ep{fmt.Sprintf("10.%d.%d.1", i/256%256, i%256), true}, ep{fmt.Sprintf("10.%d.%d.2", i/256%256, i%256), true}))
	}
	return in
}

// manyL4Routes is n TCP routes on distinct ports, one endpoint each.
func manyL4Routes(n int) Objects {
	var in Objects
	for i := range n {
		name := fmt.Sprintf("tcp-%d", i)
		svc := l4Service("shop", name, 10000+i, corev1.ProtocolTCP)
		in.Services = append(in.Services, svc)
		in.EndpointSlices = append(in.EndpointSlices, l4Slice("shop", name+"-1", name, corev1.ProtocolTCP,
			fmt.Sprintf("10.%d.%d.1:5432", i/256%256, i%256)))
	}
	return in
}

// BenchmarkRouteTable10k builds and compiles the snapshot of 10,000 routes (what one rebuild costs)
// and reports the heap the running snapshot keeps: retained-B for the Routes and the compiled Table
// together, and retained-B/route.
func BenchmarkRouteTable10k(b *testing.B) {
	in := manyRoutes(routeCount)
	b.ReportAllocs()
	for b.Loop() {
		routes, problems := Build(DefaultIngressClass, in)
		if len(routes.HTTP) != routeCount || len(problems) != 0 {
			b.Fatalf("built %d routes and %d problems, want %d and none", len(routes.HTTP), len(problems), routeCount)
		}
		_ = Compile(routes, NewPool())
	}
	// After the loop: b.Loop's timer reset drops metrics reported before it.
	b.StopTimer()
	kept := retained(func() any {
		routes, _ := Build(DefaultIngressClass, in)
		return Compile(routes, NewPool())
	})
	runtime.KeepAlive(in) // else the objects' collection hides the snapshot's size
	b.ReportMetric(float64(kept), "retained-B")
	b.ReportMetric(float64(kept)/routeCount, "retained-B/route")
}

// BenchmarkRoutesEqual10k is the comparison every rebuild makes before deciding to publish.
func BenchmarkRoutesEqual10k(b *testing.B) {
	in := manyRoutes(routeCount)
	x, _ := Build(DefaultIngressClass, in)
	y, _ := Build(DefaultIngressClass, in)
	b.ReportAllocs()
	for b.Loop() {
		if !x.Equal(y) {
			b.Fatal("equal routes compare unequal")
		}
	}
}

// BenchmarkBuildL4_10k builds 10,000 TCP routes (what one rebuild costs the L4 side) and reports the
// heap they keep.
func BenchmarkBuildL4_10k(b *testing.B) {
	in := manyL4Routes(routeCount)
	b.ReportAllocs()
	for b.Loop() {
		routes, problems := BuildL4(in)
		if len(routes) != routeCount || len(problems) != 0 {
			b.Fatalf("built %d L4 routes and %d problems, want %d and none", len(routes), len(problems), routeCount)
		}
	}
	b.StopTimer()
	kept := retained(func() any {
		routes, _ := BuildL4(in)
		return routes
	})
	runtime.KeepAlive(in)
	b.ReportMetric(float64(kept), "retained-B")
}

// retained is the live heap that what build returns keeps, after garbage collection. The caller keeps
// build's inputs alive past the call.
func retained(build func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
