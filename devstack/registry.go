package devstack

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// renderRegistryConfig is the distribution registry's config: filesystem storage under dataDir, plain
// HTTP on loopback, deletes allowed (garbage collection of old versions).
func renderRegistryConfig(dataDir string, port int) []byte {
	return fmt.Appendf(nil, `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:%d
`, dataDir, port)
}

func (r *runner) registry() component {
	port := r.cfg.Ports.Registry
	return component{
		name: "registry",
		bin:  filepath.Join(r.p.bin, "registry"),
		args: []string{"serve", r.p.join("registry", "config.yml")},
		// no tracing exporter: nothing collects traces here
		env:    []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"},
		ports:  []int{port},
		health: httpProbe(plainClient(), "http://127.0.0.1:"+strconv.Itoa(port)+"/v2/", ""),
	}
}

func (r *runner) writeRegistryConfig() error {
	_, err := writeIfChanged(r.p.join("registry", "config.yml"),
		renderRegistryConfig(r.p.join("registry", "data"), r.cfg.Ports.Registry), 0o644)
	return err
}
