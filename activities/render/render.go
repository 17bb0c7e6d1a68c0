// Package render turns a component's release into the Kubernetes objects that run it. It is a pure
// function: the same release always renders the same objects, so applying them again is a no-op and a
// rollback re-applies exactly what ran.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// Release is what one rendering needs: which component, which image (by digest), which spec.
type Release struct {
	Ref       contract.ComponentRef
	ReleaseID string
	Image     string // repository@sha256:...; the spec's own image is ignored
	Spec      contract.ComponentSpec
}

// Objects are a release's objects, in the order they are applied.
type Objects struct {
	Service    *corev1ac.ServiceApplyConfiguration // nil when the component has no ports
	Deployment *appsv1ac.DeploymentApplyConfiguration
}

// Name is the name of a component's Kubernetes objects in its tenant's namespace: "<app>-<component>",
// a DNS-1035 label (Service names must start with a letter and fit in 63 characters).
func Name(ref contract.ComponentRef) string {
	name := ref.App + "-" + ref.Component
	if name[0] >= '0' && name[0] <= '9' {
		name = "c-" + name
	}
	if len(name) > 63 {
		sum := sha256.Sum256([]byte(ref.App + "/" + ref.Component))
		name = name[:54] + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return name
}

// Namespace is the namespace a tenant's components run in.
func Namespace(tenant string) string { return tenant }

// SelectorLabels select a component's pods; they never change over the component's life.
func SelectorLabels(ref contract.ComponentRef) map[string]string {
	return map[string]string{
		contract.LabelApp:       ref.App,
		contract.LabelComponent: ref.Component,
	}
}

// Labels are the labels of every object of a component.
func Labels(ref contract.ComponentRef) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       ref.Component,
		"app.kubernetes.io/instance":   Name(ref),
		"app.kubernetes.io/part-of":    ref.App,
		"app.kubernetes.io/managed-by": "rainflow",
		contract.LabelTenant:           ref.Tenant,
		contract.LabelApp:              ref.App,
		contract.LabelComponent:        ref.Component,
	}
}

// Render returns the objects of r. It fails only on a spec that Kubernetes would reject.
func Render(r Release) (Objects, error) {
	if r.Image == "" {
		return Objects{}, fmt.Errorf("render %s: no image", Name(r.Ref))
	}
	container, err := renderContainer(r)
	if err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", Name(r.Ref), err)
	}
	name, ns := Name(r.Ref), Namespace(r.Ref.Tenant)
	labels := Labels(r.Ref)
	objLabels := merge(labels, map[string]string{contract.LabelRelease: r.ReleaseID})

	pod := corev1ac.PodSpec().WithContainers(container).WithEnableServiceLinks(false)
	if len(r.Spec.NodeSelector) > 0 {
		pod.WithNodeSelector(r.Spec.NodeSelector)
	}
	if r.Spec.StopGraceSeconds != nil {
		pod.WithTerminationGracePeriodSeconds(*r.Spec.StopGraceSeconds)
	}
	dep := appsv1ac.Deployment(name, ns).
		WithLabels(objLabels).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(r.Spec.Replicas).
			WithRevisionHistoryLimit(10).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(r.Ref))).
			WithStrategy(appsv1ac.DeploymentStrategy().
				WithType("RollingUpdate").
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxSurge(intstr.FromInt32(1)).
					WithMaxUnavailable(intstr.FromInt32(0)))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithSpec(pod)))

	objs := Objects{Deployment: dep}
	if len(r.Spec.Ports) > 0 {
		svc := corev1ac.ServiceSpec().WithSelector(SelectorLabels(r.Ref)).WithType(corev1.ServiceTypeClusterIP)
		for _, p := range r.Spec.Ports {
			svc.WithPorts(corev1ac.ServicePort().
				WithName(portName(p)).
				WithPort(p.Port).
				WithTargetPort(intstr.FromString(portName(p))).
				WithProtocol(protocol(p)))
		}
		objs.Service = corev1ac.Service(name, ns).WithLabels(objLabels).WithSpec(svc)
	}
	return objs, nil
}

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
	env := append([]contract.EnvVar(nil), r.Spec.Env...)
	sort.SliceStable(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	for _, e := range env {
		c.WithEnv(corev1ac.EnvVar().WithName(e.Name).WithValue(e.Value))
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
	return c, nil
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

func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
