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

func seedImages(ctx context.Context, stack *devstack.Stack) error {
	if stack.RegistryAddr == "" {
		return nil
	}
	ref := stack.RegistryAddr + "/" + demoImage
	if ok, err := images.Exists(ctx, ref); err != nil {
		return err
	} else if ok {
		return nil
	}
	img, err := images.BusyboxImage(map[string][]byte{
		"www/index.html": []byte("hello from rainflow\n"),
	}, images.ExitOnTerm("/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"))
	if err != nil {
		return fmt.Errorf("build demo image: %w", err)
	}
	if _, err := images.Push(ctx, img, ref); err != nil {
		return fmt.Errorf("push demo image: %w", err)
	}
	return nil
}
