package main

import (
	"context"
	"fmt"

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
