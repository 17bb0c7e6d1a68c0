// Command hello is the fixture the ko-style builder compiles in its tests.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Printf("hello from rainflow, GREETING=%s\n", os.Getenv("GREETING"))
}
