package api

import (
	"fmt"
	"maps"
	"path"
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
	// maxConfigBytes bounds the content of a component's config files together (they share one
	// ConfigMap, which holds at most 1 MiB).
	maxConfigBytes = 512 << 10
	maxConfigFiles = 100
	maxVolumes     = 20
	maxPathLength  = 1024
	maxDependsOn   = 50
	// maxStatefulName is the longest "<app>-<component>" of a stateful component: its StatefulSet's
	// pods carry the label controller-revision-hash=<app>-<component>-<10 characters>, at most 63.
	maxStatefulName = 52
)

// reservedVolumeName is the pod volume of the config files.
const reservedVolumeName = "rainflow-config"

// normalizeSpec fills the defaults a client may leave out: a port's protocol is TCP, a volume's access
// mode is ReadWriteOnce.
func normalizeSpec(spec *contract.ComponentSpec) {
	for i := range spec.Ports {
		if spec.Ports[i].Protocol == "" {
			spec.Ports[i].Protocol = "TCP"
		}
	}
	for i := range spec.Volumes {
		if spec.Volumes[i].AccessMode == "" {
			spec.Volumes[i].AccessMode = contract.AccessReadWriteOnce
		}
	}
}

// validateComponentSpec is validateSpec plus the rules that depend on the component's app and name:
// a component does not depend on itself, and a stateful component's "<app>-<component>" fits its pods'
// labels.
func validateComponentSpec(errs *fieldErrors, prefix, app, component string, spec contract.ComponentSpec) {
	validateSpec(errs, prefix, spec)
	for i, d := range spec.DependsOn {
		if d == component {
			errs.add(fmt.Sprintf("%s.dependsOn[%d]", prefix, i), fmt.Sprintf("%q is the component itself", d))
		}
	}
	if name := app + "-" + component; spec.Stateful && len(name) > maxStatefulName {
		errs.add(prefix+".stateful", fmt.Sprintf("a stateful component needs app and component names of at most %d characters together "+
			"(%q has %d): Kubernetes labels its pods with the name and a hash", maxStatefulName-1, app+" "+component, len(name)-1))
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
	validateProbe(errs, prefix+".startup", spec.StartupProbe, ports)
	mounts := map[string]string{} // path -> the field that mounts it
	validateConfigFiles(errs, prefix+".configFiles", spec.ConfigFiles, mounts)
	validateVolumes(errs, prefix+".volumes", spec, mounts)
	validateAutoscaling(errs, prefix+".autoscaling", spec.Autoscaling)
	validateDependsOn(errs, prefix+".dependsOn", spec.DependsOn)
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
		errs.add(field+".periodSeconds", fmt.Sprintf("must be between 0 (the default, 2) and %d", maxProbePeriod))
	}
	if p.FailureThreshold < 0 || p.FailureThreshold > maxFailureThreshold {
		errs.add(field+".failureThreshold", fmt.Sprintf("must be between 0 (the default, 3) and %d", maxFailureThreshold))
	}
}

// validateMountPath checks a path a config file or a volume is mounted at: absolute, clean, not the
// root, and not mounted by anything else.
func validateMountPath(errs *fieldErrors, field, p string, mounts map[string]string) {
	switch {
	case p == "":
		errs.add(field, "is required")
	case !strings.HasPrefix(p, "/"):
		errs.add(field, fmt.Sprintf("%q must be absolute (start with /)", p))
	case path.Clean(p) != p:
		errs.add(field, fmt.Sprintf("%q must be clean (no //, ., .. or trailing /): %q", p, path.Clean(p)))
	case p == "/":
		errs.add(field, "must not be the root folder")
	case len(p) > maxPathLength:
		errs.add(field, fmt.Sprintf("must be at most %d characters", maxPathLength))
	default:
		if other, dup := mounts[p]; dup {
			errs.add(field, fmt.Sprintf("duplicates %s: %q is mounted twice", other, p))
			return
		}
		mounts[p] = field
	}
}

func validateConfigFiles(errs *fieldErrors, field string, files []contract.ConfigFile, mounts map[string]string) {
	if len(files) > maxConfigFiles {
		errs.add(field, fmt.Sprintf("at most %d config files", maxConfigFiles))
	}
	size := 0
	for i, f := range files {
		validateMountPath(errs, fmt.Sprintf("%s[%d].path", field, i), f.Path, mounts)
		size += len(f.Content)
	}
	if size > maxConfigBytes {
		errs.add(field, fmt.Sprintf("the config files hold %d bytes together, more than %d (512 KiB)", size, maxConfigBytes))
	}
}

// validateVolumes checks each volume, and that a stateless component whose replicas may run on
// several nodes has no ReadWriteOnce volume (only the pods of one node can mount it; a stateful
// component gets one volume per replica instead).
func validateVolumes(errs *fieldErrors, field string, spec contract.ComponentSpec, mounts map[string]string) {
	if len(spec.Volumes) > maxVolumes {
		errs.add(field, fmt.Sprintf("at most %d volumes", maxVolumes))
	}
	replicas := spec.Replicas
	if a := spec.Autoscaling; a != nil {
		replicas = a.MaxReplicas
	}
	names := map[string]int{}
	for i, v := range spec.Volumes {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case v.Name == "":
			errs.add(f+".name", "is required")
		case len(validation.IsDNS1123Label(v.Name)) > 0:
			errs.addAll(f+".name", validation.IsDNS1123Label(v.Name))
		case v.Name == reservedVolumeName:
			errs.add(f+".name", fmt.Sprintf("%q is reserved for the config files", v.Name))
		default:
			if j, dup := names[v.Name]; dup {
				errs.add(f+".name", fmt.Sprintf("duplicates %s[%d].name %q", field, j, v.Name))
			}
			names[v.Name] = i
		}
		validateMountPath(errs, f+".path", v.Path, mounts)
		if v.Size == "" {
			errs.add(f+".size", "is required")
		} else if q := quantity(errs, f+".size", v.Size); q != nil && q.Sign() == 0 {
			errs.add(f+".size", "must be more than 0")
		}
		switch v.AccessMode {
		case "", contract.AccessReadWriteOnce:
			if !spec.Stateful && replicas > 1 {
				errs.add(f+".accessMode", fmt.Sprintf("a stateless component with more than one replica (%d) needs %s: only the pods of one node "+
					"can mount a %s volume; or make the component stateful, for one volume per replica",
					replicas, contract.AccessReadWriteMany, contract.AccessReadWriteOnce))
			}
		case contract.AccessReadWriteMany:
		default:
			errs.add(f+".accessMode", fmt.Sprintf("must be %s or %s, not %q", contract.AccessReadWriteOnce, contract.AccessReadWriteMany, v.AccessMode))
		}
		if v.StorageClass != "" {
			errs.addAll(f+".storageClass", validation.IsDNS1123Subdomain(v.StorageClass))
		}
	}
}

func validateAutoscaling(errs *fieldErrors, field string, a *contract.Autoscaling) {
	if a == nil {
		return
	}
	if a.MinReplicas < 1 || a.MinReplicas > maxReplicas {
		errs.add(field+".minReplicas", fmt.Sprintf("must be between 1 and %d", maxReplicas))
	}
	if a.MaxReplicas < 1 || a.MaxReplicas > maxReplicas {
		errs.add(field+".maxReplicas", fmt.Sprintf("must be between 1 and %d", maxReplicas))
	} else if a.MaxReplicas < a.MinReplicas {
		errs.add(field+".maxReplicas", fmt.Sprintf("must be at least minReplicas (%d)", a.MinReplicas))
	}
	if a.CPUUtilizationPercent < 0 || a.CPUUtilizationPercent > 100 {
		errs.add(field+".cpuUtilizationPercent", fmt.Sprintf("must be between 1 and 100 (0 for the default, %d)", contract.DefaultCPUUtilizationPercent))
	}
}

// validateDependsOn checks the names a component depends on; that they exist in the app and form no
// cycle is the app's operations' concern, and that none is the component itself validateComponentSpec's.
func validateDependsOn(errs *fieldErrors, field string, deps []string) {
	if len(deps) > maxDependsOn {
		errs.add(field, fmt.Sprintf("at most %d dependencies", maxDependsOn))
	}
	seen := map[string]int{}
	for i, d := range deps {
		f := fmt.Sprintf("%s[%d]", field, i)
		if d == "" {
			errs.add(f, "is required")
			continue
		}
		errs.addAll(f, validation.IsDNS1035Label(d))
		if j, dup := seen[d]; dup {
			errs.add(f, fmt.Sprintf("duplicates %s[%d] %q", field, j, d))
		}
		seen[d] = i
	}
}
