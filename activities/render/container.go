package render

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/contract"
)

func renderContainer(r Release) (*corev1ac.ContainerApplyConfiguration, error) {
	c := corev1ac.Container().
		WithName(containerName(r.Ref)).
		WithImage(r.Image).
		WithImagePullPolicy(corev1.PullIfNotPresent)
	if len(r.Spec.Command) > 0 {
		c.WithCommand(r.Spec.Command...)
	}
	if len(r.Spec.Args) > 0 {
		c.WithArgs(r.Spec.Args...)
	}
	for _, p := range r.Spec.Ports {
		c.WithPorts(corev1ac.ContainerPort().WithName(portName(p)).WithContainerPort(p.Port).WithProtocol(protocol(p)))
	}
	for _, e := range containerEnv(r) {
		c.WithEnv(e)
	}
	res, err := resources(r.Spec.Resources)
	if err != nil {
		return nil, err
	}
	if res != nil {
		c.WithResources(res)
	}
	if r.Spec.Readiness != nil {
		c.WithReadinessProbe(probe(r.Spec.Readiness))
	}
	if r.Spec.Liveness != nil {
		c.WithLivenessProbe(probe(r.Spec.Liveness))
	}
	if r.Spec.StartupProbe != nil {
		c.WithStartupProbe(probe(r.Spec.StartupProbe))
	}
	for _, m := range mounts(r) {
		c.WithVolumeMounts(m)
	}
	return c, nil
}

// containerEnv is the container's environment by name: env, and the secret env read from its Secret.
func containerEnv(r Release) []*corev1ac.EnvVarApplyConfiguration {
	var out []*corev1ac.EnvVarApplyConfiguration
	for _, e := range env(r) {
		out = append(out, corev1ac.EnvVar().WithName(e.Name).WithValue(e.Value))
	}
	out = append(out, secretEnvVars(r)...)
	sort.SliceStable(out, func(i, j int) bool { return *out[i].Name < *out[j].Name })
	return out
}

// env is the component's own environment and its dependencies' hosts and ports, by name. A
// dependency's variable never replaces one the component sets itself, in its env or its secret env.
func env(r Release) []contract.EnvVar {
	out := append([]contract.EnvVar(nil), r.Spec.Env...)
	taken := map[string]bool{}
	for _, e := range out {
		taken[e.Name] = true
	}
	for name := range r.SecretEnv.Values {
		taken[name] = true
	}
	add := func(name, value string) {
		if !taken[name] {
			taken[name] = true
			out = append(out, contract.EnvVar{Name: name, Value: value})
		}
	}
	for _, d := range dependencies(r) {
		prefix := envName(d.Component)
		add(prefix+"_HOST", ServiceHost(contract.ComponentRef{Tenant: r.Ref.Tenant, App: r.Ref.App, Component: d.Component}))
		if len(d.Ports) > 0 {
			add(prefix+"_PORT", fmt.Sprint(d.Ports[0].Port))
		}
		for _, p := range d.Ports {
			add(prefix+"_PORT_"+envName(portName(p)), fmt.Sprint(p.Port))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// dependencies are the components of DependsOn and of Dependencies, by name, with the ports known.
func dependencies(r Release) []contract.Dependency {
	byName := map[string]contract.Dependency{}
	for _, c := range r.Spec.DependsOn {
		byName[c] = contract.Dependency{Component: c}
	}
	for _, d := range r.Dependencies {
		byName[d.Component] = d
	}
	out := make([]contract.Dependency, 0, len(byName))
	for _, d := range byName {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Component < out[j].Component })
	return out
}

// envName is s upper-cased with every character but letters and digits as "_", and a leading "_"
// before a digit: "order-db" becomes ORDER_DB.
func envName(s string) string { return contract.EnvName(s) }

// mounts are the container's volume mounts, by path: each config file on its own (subPath), and
// each volume.
func mounts(r Release) []*corev1ac.VolumeMountApplyConfiguration {
	var out []*corev1ac.VolumeMountApplyConfiguration
	keys := configKeys(r.Spec.ConfigFiles)
	for _, f := range r.Spec.ConfigFiles {
		out = append(out, corev1ac.VolumeMount().WithName(configVolume).WithMountPath(f.Path).
			WithSubPath(keys[f.Path]).WithReadOnly(true))
	}
	for _, v := range r.Spec.Volumes {
		out = append(out, corev1ac.VolumeMount().WithName(v.Name).WithMountPath(v.Path))
	}
	sort.Slice(out, func(i, j int) bool { return *out[i].MountPath < *out[j].MountPath })
	return out
}

func resources(r contract.Resources) (*corev1ac.ResourceRequirementsApplyConfiguration, error) {
	req, err := quantities(map[corev1.ResourceName]string{corev1.ResourceCPU: r.CPURequest, corev1.ResourceMemory: r.MemoryRequest})
	if err != nil {
		return nil, err
	}
	lim, err := quantities(map[corev1.ResourceName]string{corev1.ResourceCPU: r.CPULimit, corev1.ResourceMemory: r.MemoryLimit})
	if err != nil {
		return nil, err
	}
	if len(req) == 0 && len(lim) == 0 {
		return nil, nil
	}
	out := corev1ac.ResourceRequirements()
	if len(req) > 0 {
		out.WithRequests(req)
	}
	if len(lim) > 0 {
		out.WithLimits(lim)
	}
	return out, nil
}

func quantities(in map[corev1.ResourceName]string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for name, v := range in {
		if v == "" {
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("parse %s quantity %q: %w", name, v, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("%s quantity %q is negative", name, v)
		}
		out[name] = q
	}
	return out, nil
}

func probe(p *contract.Probe) *corev1ac.ProbeApplyConfiguration {
	out := corev1ac.Probe().
		WithPeriodSeconds(orDefault(p.PeriodSeconds, 2)).
		WithFailureThreshold(orDefault(p.FailureThreshold, 3)).
		WithTimeoutSeconds(1)
	if p.HTTPPath != "" {
		return out.WithHTTPGet(corev1ac.HTTPGetAction().WithPath(p.HTTPPath).WithPort(intstr.FromInt32(p.Port)))
	}
	return out.WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromInt32(p.Port)))
}

// portName is the name of a port: the given one, or one derived from its number and protocol.
func portName(p contract.Port) string {
	if p.Name != "" {
		return p.Name
	}
	if protocol(p) == corev1.ProtocolUDP {
		return fmt.Sprintf("udp-%d", p.Port)
	}
	return fmt.Sprintf("tcp-%d", p.Port)
}

func protocol(p contract.Port) corev1.Protocol {
	if p.Protocol == "UDP" {
		return corev1.ProtocolUDP
	}
	return corev1.ProtocolTCP
}

// containerName is the component's name, cut to what a container name allows.
func containerName(ref contract.ComponentRef) string {
	if len(ref.Component) > 63 {
		return ref.Component[:63]
	}
	return ref.Component
}

func orDefault(v, def int32) int32 {
	if v > 0 {
		return v
	}
	return def
}
