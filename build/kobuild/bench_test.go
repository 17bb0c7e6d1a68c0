package kobuild

import (
	"context"
	"testing"
)

// BenchmarkBuildWarm measures one ko-style build (go build with a warm cache, layer, image digest)
// of the hello fixture: the time a rebuild of unchanged source costs.
func BenchmarkBuildWarm(b *testing.B) {
	bld := newBuilder(b)
	req := Request{SourceDir: copySource(b, "hello"), MainPackage: "cmd/hello", Base: baseImage(b, "amd64"), Ports: []int{8080}}
	if _, err := bld.Build(context.Background(), req); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := bld.Build(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildCold measures a build with an empty GOCACHE (the standard library compiled too):
// the first build on a fresh builder. Run it with -benchtime=1x; each iteration takes seconds.
func BenchmarkBuildCold(b *testing.B) {
	base := baseImage(b, "amd64")
	src := copySource(b, "hello")
	for b.Loop() {
		b.StopTimer()
		bld, err := New(Config{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := bld.Build(context.Background(), Request{SourceDir: src, MainPackage: "cmd/hello", Base: base}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssemble measures the image half of a build alone: the layer for a 2 MiB binary, the
// config, and the digest (which compresses the layer).
func BenchmarkAssemble(b *testing.B) {
	bld := newBuilder(b)
	base := baseImage(b, "amd64")
	cf, err := base.ConfigFile()
	if err != nil {
		b.Fatal(err)
	}
	bin := make([]byte, 2<<20)
	for i := range bin {
		bin[i] = byte(i * 7 >> 3)
	}
	for b.Loop() {
		img, err := bld.assemble(Request{Base: base, Ports: []int{8080}}, cf, bin, "/app/x")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.Digest(); err != nil {
			b.Fatal(err)
		}
	}
}
