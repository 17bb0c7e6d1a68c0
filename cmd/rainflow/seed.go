package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rainflow/rainflow/devstack"
	"github.com/rainflow/rainflow/devstack/images"
)

// demoImage is the image `rainflow dev` puts in the local registry so that a first deploy needs nothing
// else: busybox httpd serving a page on port 8080.
const demoImage = "rainflow/hello:1"

// goBaseImage is the base image of Go builds that `rainflow dev` puts in the local registry (no public
// registry is reachable here): a busybox root file system, so a built program has a shell beside it.
const goBaseImage = "rainflow/base/busybox:1"

func seedImages(ctx context.Context, stack *devstack.Stack) error {
	if stack.RegistryAddr == "" {
		return nil
	}
	for _, seed := range []struct {
		ref        string
		files      map[string][]byte
		entrypoint []string
	}{
		{demoImage, map[string][]byte{"www/index.html": []byte("hello from rainflow\n")},
			images.ExitOnTerm("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www")},
		{goBaseImage, nil, nil},
	} {
		ref := stack.RegistryAddr + "/" + seed.ref
		if ok, err := images.Exists(ctx, ref); err != nil {
			return err
		} else if ok {
			continue
		}
		img, err := images.BusyboxImage(seed.files, seed.entrypoint)
		if err != nil {
			return fmt.Errorf("build image %s: %w", seed.ref, err)
		}
		if _, err := images.Push(ctx, img, ref); err != nil {
			return fmt.Errorf("push image %s: %w", seed.ref, err)
		}
	}
	return nil
}

// seedGoToolchain puts the Go build image of generated Go builds in the local registry: busybox and
// this machine's Go toolchain (images.GoToolchainImage), tagged with the toolchain's version. An image
// of that tag already there is kept, so only a stack's first start builds and pushes it, in the
// background (~20 s: the platform is up before; a generated Go build started meanwhile fails on its
// FROM image and can be run again). It answers the image's reference, or "" (with a warning) when
// there is no registry or no Go toolchain.
func seedGoToolchain(ctx context.Context, stack *devstack.Stack, logger *slog.Logger) string {
	if stack.RegistryAddr == "" {
		return ""
	}
	tc, err := images.FindGoToolchain(ctx)
	if err != nil {
		logger.Warn("no Go build image: generated Go builds need one (--go-build-image)", "err", err)
		return ""
	}
	ref := stack.RegistryAddr + "/" + images.GoToolchainRepo + ":" + tc.Version
	if ok, err := images.Exists(ctx, ref); err == nil && ok {
		return ref
	}
	logger.Info("seeding the Go build image in the background", "image", ref, "goroot", tc.Root)
	go func() {
		begin := time.Now()
		img, err := images.GoToolchainImage(tc)
		if err == nil {
			_, err = images.Push(ctx, img, ref)
		}
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("no Go build image: generated Go builds need one (--go-build-image)", "image", ref, "err", err)
			}
			return
		}
		var size int64
		if m, err := img.Manifest(); err == nil {
			for _, l := range m.Layers {
				size += l.Size
			}
		}
		logger.Info("seeded the Go build image", "image", ref, "compressed_bytes", size,
			"took", time.Since(begin).Round(time.Millisecond))
	}()
	return ref
}
