package render

import (
	"errors"
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rainflow/rainflow/contract"
)

// Limits rendering enforces because Kubernetes (or a running pod) would fail past them.
const (
	// maxConfigBytes is what a ConfigMap holds (1 MiB, less room for its metadata).
	maxConfigBytes = 1<<20 - 16<<10
	// configVolume is the pod volume of the config files; no volume of the spec may take its name.
	configVolume = "rainflow-config"
)

// check refuses a release whose objects Kubernetes would reject, or which would never run: the
// API validates the same rules with field paths, so this only catches a spec that bypassed it.
func check(r Release) error {
	var errs []error
	if r.Image == "" {
		errs = append(errs, errors.New("no image"))
	}
	s := r.Spec
	if s.Stateful && len(Name(r.Ref)) > maxStatefulName {
		errs = append(errs, fmt.Errorf("stateful: the name %q is longer than %d characters (StatefulSet pods could not be labelled): shorten the app or component name",
			Name(r.Ref), maxStatefulName))
	}
	mounts := map[string]string{} // path -> what mounts it
	mount := func(p, what string) {
		if p == "" || p[0] != '/' || path.Clean(p) != p || p == "/" {
			errs = append(errs, fmt.Errorf("%s: path %q must be absolute, clean and not /", what, p))
			return
		}
		if other, dup := mounts[p]; dup {
			errs = append(errs, fmt.Errorf("%s: path %q is already mounted by %s", what, p, other))
			return
		}
		mounts[p] = what
	}
	size := 0
	for i, f := range s.ConfigFiles {
		mount(f.Path, fmt.Sprintf("configFiles[%d]", i))
		size += len(f.Content)
	}
	if size > maxConfigBytes {
		errs = append(errs, fmt.Errorf("configFiles: %d bytes in all, more than a ConfigMap holds (%d)", size, maxConfigBytes))
	}
	names := map[string]bool{}
	for i, v := range s.Volumes {
		what := fmt.Sprintf("volumes[%d]", i)
		mount(v.Path, what)
		errs = append(errs, checkVolume(what, v, names)...)
	}
	if a := s.Autoscaling; a != nil {
		if a.MinReplicas < 1 || a.MaxReplicas < a.MinReplicas || a.MaxReplicas > contract.MaxReplicas || a.CPUUtilizationPercent < 0 {
			errs = append(errs, fmt.Errorf("autoscaling: need 1 <= minReplicas (%d) <= maxReplicas (%d) <= %d and a CPU utilization >= 0 (%d)",
				a.MinReplicas, a.MaxReplicas, contract.MaxReplicas, a.CPUUtilizationPercent))
		}
	}
	errs = append(errs, checkSecretEnv(r)...)
	deps := map[string]bool{}
	for i, d := range s.DependsOn {
		switch {
		case d == r.Ref.Component:
			errs = append(errs, fmt.Errorf("dependsOn[%d]: a component cannot depend on itself", i))
		case deps[d]:
			errs = append(errs, fmt.Errorf("dependsOn[%d]: %q is listed twice", i, d))
		case len(validation.IsDNS1035Label(d)) > 0:
			errs = append(errs, fmt.Errorf("dependsOn[%d]: %q is not a component name", i, d))
		}
		deps[d] = true
	}
	return errors.Join(errs...)
}

func checkVolume(what string, v contract.Volume, names map[string]bool) []error {
	var errs []error
	switch {
	case len(validation.IsDNS1123Label(v.Name)) > 0:
		errs = append(errs, fmt.Errorf("%s: name %q is not a DNS label", what, v.Name))
	case v.Name == configVolume:
		errs = append(errs, fmt.Errorf("%s: name %q is reserved for the config files", what, v.Name))
	case names[v.Name]:
		errs = append(errs, fmt.Errorf("%s: name %q is used twice", what, v.Name))
	}
	names[v.Name] = true
	if q, err := resource.ParseQuantity(v.Size); err != nil || q.Sign() <= 0 {
		errs = append(errs, fmt.Errorf("%s: size %q is not a positive quantity", what, v.Size))
	}
	if m := v.AccessMode; m != "" && m != contract.AccessReadWriteOnce && m != contract.AccessReadWriteMany {
		errs = append(errs, fmt.Errorf("%s: access mode %q is neither %s nor %s", what, m, contract.AccessReadWriteOnce, contract.AccessReadWriteMany))
	}
	if c := v.StorageClass; c != "" && len(validation.IsDNS1123Subdomain(c)) > 0 {
		errs = append(errs, fmt.Errorf("%s: storage class %q is not a DNS subdomain", what, c))
	}
	return errs
}
