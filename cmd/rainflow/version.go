package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/rainflow/rainflow/contract"
)

func runVersion(_ context.Context, _ []string) error {
	fmt.Printf("rainflow %s (%s %s/%s)\n", contract.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
