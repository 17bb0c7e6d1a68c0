package api

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rainflow/rainflow/contract"
)

// Bounds of a component's spec.
const (
	maxReplicas         = contract.MaxReplicas
	maxProbePeriod      = 3600
	maxFailureThreshold = 100
)

// normalizeSpec fills the defaults a client may leave out: a port's protocol is TCP.
func normalizeSpec(spec *contract.ComponentSpec) {
	for i := range spec.Ports {
		if spec.Ports[i].Protocol == "" {
			spec.Ports[i].Protocol = "TCP"
		}
	}
}

// validateSpec checks a component's spec the way Kubernetes would check the objects rendered from it,
// so that a spec the API accepted never fails at apply time. Field paths start at prefix ("spec").
func validateSpec(errs *fieldErrors, prefix string, spec contract.ComponentSpec) {
	validateImage(errs, prefix+".image", spec.Image)
	if spec.Replicas < 0 || spec.Replicas > maxReplicas {
		errs.add(prefix+".replicas", fmt.Sprintf("must be between 0 and %d", maxReplicas))
	}
	ports := validatePorts(errs, prefix+".ports", spec.Ports)
	validateEnv(errs, prefix+".env", spec.Env)
	validateResources(errs, prefix+".resources", spec.Resources)
	validateProbe(errs, prefix+".readiness", spec.Readiness, ports)
	validateProbe(errs, prefix+".liveness", spec.Liveness, ports)
	for _, key := range slices.Sorted(maps.Keys(spec.NodeSelector)) {
		field := fmt.Sprintf("%s.nodeSelector[%q]", prefix, key)
		errs.addAll(field, content.IsLabelKey(key))
		errs.addAll(field, content.IsLabelValue(spec.NodeSelector[key]))
	}
}

func validateImage(errs *fieldErrors, field, image string) {
	if image == "" {
		errs.add(field, "is required")
		return
	}
	if _, err := name.ParseReference(image); err != nil {
		errs.add(field, fmt.Sprintf("is not an image reference (registry/repository[:tag][@digest]): %v", err))
	}
}

// validatePorts answers the set of valid port numbers, for the probes to refer to.
func validatePorts(errs *fieldErrors, field string, ports []contract.Port) map[int32]bool {
	numbers := map[int32]bool{}
	seen := map[string]int{}
	names := map[string]int{}
	for i, p := range ports {
		f := fmt.Sprintf("%s[%d]", field, i)
		if msgs := validation.IsValidPortNum(int(p.Port)); len(msgs) > 0 {
			errs.addAll(f+".port", msgs)
		} else {
			numbers[p.Port] = true
		}
		if p.Protocol != "TCP" && p.Protocol != "UDP" {
			errs.add(f+".protocol", fmt.Sprintf("must be TCP or UDP, not %q", p.Protocol))
		}
		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if j, dup := seen[key]; dup {
			errs.add(f, fmt.Sprintf("duplicates %s[%d]: port %s is declared twice", field, j, key))
		}
		seen[key] = i
		switch {
		case p.Name == "" && len(ports) > 1:
			errs.add(f+".name", "is required when a component has more than one port (Kubernetes Services name each port)")
		case p.Name != "":
			errs.addAll(f+".name", validation.IsValidPortName(p.Name))
			if j, dup := names[p.Name]; dup {
				errs.add(f+".name", fmt.Sprintf("duplicates %s[%d].name %q", field, j, p.Name))
			}
			names[p.Name] = i
		}
	}
	return numbers
}

func validateEnv(errs *fieldErrors, field string, env []contract.EnvVar) {
	seen := map[string]int{}
	for i, e := range env {
		f := fmt.Sprintf("%s[%d].name", field, i)
		if e.Name == "" {
			errs.add(f, "is required")
			continue
		}
		errs.addAll(f, validation.IsEnvVarName(e.Name))
		if j, dup := seen[e.Name]; dup {
			errs.add(f, fmt.Sprintf("duplicates %s[%d].name %q", field, j, e.Name))
		}
		seen[e.Name] = i
	}
}

func validateResources(errs *fieldErrors, field string, r contract.Resources) {
	cpuReq := quantity(errs, field+".cpuRequest", r.CPURequest)
	cpuLim := quantity(errs, field+".cpuLimit", r.CPULimit)
	memReq := quantity(errs, field+".memoryRequest", r.MemoryRequest)
	memLim := quantity(errs, field+".memoryLimit", r.MemoryLimit)
	if cpuReq != nil && cpuLim != nil && cpuReq.Cmp(*cpuLim) > 0 {
		errs.add(field+".cpuRequest", fmt.Sprintf("must be at most cpuLimit %s", r.CPULimit))
	}
	if memReq != nil && memLim != nil && memReq.Cmp(*memLim) > 0 {
		errs.add(field+".memoryRequest", fmt.Sprintf("must be at most memoryLimit %s", r.MemoryLimit))
	}
}

// quantity parses a Kubernetes quantity ("250m", "1.5", "512Mi"); "" is no value.
func quantity(errs *fieldErrors, field, s string) *resource.Quantity {
	if s == "" {
		return nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		errs.add(field, fmt.Sprintf("%q is not a Kubernetes quantity (e.g. 250m, 1, 512Mi): %v", s, err))
		return nil
	}
	if q.Sign() < 0 {
		errs.add(field, fmt.Sprintf("%q must not be negative", s))
		return nil
	}
	return &q
}

func validateProbe(errs *fieldErrors, field string, p *contract.Probe, ports map[int32]bool) {
	if p == nil {
		return
	}
	if !ports[p.Port] {
		errs.add(field+".port", fmt.Sprintf("%d is not one of the component's ports", p.Port))
	}
	if p.HTTPPath != "" && !strings.HasPrefix(p.HTTPPath, "/") {
		errs.add(field+".httpPath", fmt.Sprintf("%q must start with /", p.HTTPPath))
	}
	if p.PeriodSeconds < 0 || p.PeriodSeconds > maxProbePeriod {
		errs.add(field+".periodSeconds", fmt.Sprintf("must be between 0 (the default, 10) and %d", maxProbePeriod))
	}
	if p.FailureThreshold < 0 || p.FailureThreshold > maxFailureThreshold {
		errs.add(field+".failureThreshold", fmt.Sprintf("must be between 0 (the default, 3) and %d", maxFailureThreshold))
	}
}
