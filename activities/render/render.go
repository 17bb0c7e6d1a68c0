// Package render turns a component's release into the Kubernetes objects that run it. It is a pure
// function: the same release always renders the same objects (maps and lists in a fixed order), so
// applying them again is a no-op and a rollback re-applies exactly what ran.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/contract"
)

// Release is what one rendering needs: which component, which image (by digest), which spec, and
// where the components it depends on listen.
type Release struct {
	Ref       contract.ComponentRef
	ReleaseID string
	Image     string // repository@sha256:...; the spec's own image is ignored
	Spec      contract.ComponentSpec
	// Dependencies are the components of Spec.DependsOn with their ports. A component of DependsOn
	// missing here still gets its <DEP>_HOST variable, its ports being unknown.
	Dependencies []contract.Dependency
	// SecretEnv is the secret env version the release runs, opened (see secret_env.go).
	SecretEnv SecretEnv
}

// Objects are a release's objects, in the order they are applied; a nil field (or an empty list) is an
// object the release does not have.
type Objects struct {
	Secret    *corev1ac.SecretApplyConfiguration    // the secret env (SecretEnvName)
	ConfigMap *corev1ac.ConfigMapApplyConfiguration // the config files
	// Volumes are the PersistentVolumeClaims of a stateless component, by name; a stateful component's
	// claims are the StatefulSet's volumeClaimTemplates.
	Volumes         []*corev1ac.PersistentVolumeClaimApplyConfiguration
	HeadlessService *corev1ac.ServiceApplyConfiguration // stateful only: the pods' stable DNS names
	Service         *corev1ac.ServiceApplyConfiguration // when the component has ports
	Deployment      *appsv1ac.DeploymentApplyConfiguration
	StatefulSet     *appsv1ac.StatefulSetApplyConfiguration
	Autoscaler      *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration
}

// Kinds of workload.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
)

// Kind is the kind of the release's workload.
func (o Objects) Kind() string {
	if o.StatefulSet != nil {
		return KindStatefulSet
	}
	return KindDeployment
}

// Annotations of the pod template.
const (
	// AnnotationConfigChecksum is the SHA-256 of the ConfigMap's data: a change of a config file
	// changes the pod template, and so rolls the pods (files mounted with subPath never update in place).
	AnnotationConfigChecksum = "rainflow.io/config-checksum"
)

// Name is the name of a component's Kubernetes objects in its tenant's namespace: "<app>-<component>",
// a DNS-1035 label (Service names must start with a letter and fit in 63 characters).
func Name(ref contract.ComponentRef) string {
	name := ref.App + "-" + ref.Component
	if name[0] >= '0' && name[0] <= '9' {
		name = "c-" + name
	}
	if len(name) > 63 {
		name = name[:54] + "-" + refHash(ref)
	}
	return name
}

// maxStatefulName is the longest name a StatefulSet may have: its pods carry the label
// controller-revision-hash=<name>-<10 characters>, and a label value fits in 63 characters.
const maxStatefulName = 52

// ConfigMapName is the name of the component's ConfigMap of config files.
func ConfigMapName(ref contract.ComponentRef) string { return Name(ref) + "-config" }

// HeadlessServiceName is the name of a stateful component's headless Service, the StatefulSet's
// serviceName: pod i answers at <name>-i.<headless>.<namespace>.svc.
func HeadlessServiceName(ref contract.ComponentRef) string { return withSuffix(ref, "-headless") }

// VolumeClaimName is the name of a stateless component's PersistentVolumeClaim of a volume. A stateful
// component's claims are named by Kubernetes: <volume>-<name>-<ordinal>.
func VolumeClaimName(ref contract.ComponentRef, volume string) string {
	return Name(ref) + "-" + volume
}

// ServiceHost is the DNS name of a component's Service, as the components that depend on it reach it.
func ServiceHost(ref contract.ComponentRef) string {
	return Name(ref) + "." + Namespace(ref.Tenant) + ".svc"
}

// withSuffix is Name with a suffix, cut and hashed to stay a DNS-1035 label of 63 characters.
func withSuffix(ref contract.ComponentRef, suffix string) string {
	name := Name(ref)
	if len(name)+len(suffix) > 63 {
		name = name[:63-len(suffix)-9] + "-" + refHash(ref)
	}
	return name + suffix
}

func refHash(ref contract.ComponentRef) string {
	sum := sha256.Sum256([]byte(ref.App + "/" + ref.Component))
	return hex.EncodeToString(sum[:])[:8]
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

// ComponentLabels are the labels that find every object of a component in its namespace, those of
// any release (and the PersistentVolumeClaims a StatefulSet made).
func ComponentLabels(ref contract.ComponentRef) map[string]string {
	return map[string]string{
		contract.LabelTenant:    ref.Tenant,
		contract.LabelApp:       ref.App,
		contract.LabelComponent: ref.Component,
	}
}

// Labels are the labels of every object of a component.
func Labels(ref contract.ComponentRef) map[string]string {
	return merge(ComponentLabels(ref), map[string]string{
		"app.kubernetes.io/name":       ref.Component,
		"app.kubernetes.io/instance":   Name(ref),
		"app.kubernetes.io/part-of":    ref.App,
		"app.kubernetes.io/managed-by": "rainflow",
	})
}

// Render returns the objects of r. It fails only on a spec that Kubernetes would reject (or that
// would render objects that never run), saying which field is wrong.
func Render(r Release) (Objects, error) {
	name := Name(r.Ref)
	if err := check(r); err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", name, err)
	}
	container, err := renderContainer(r)
	if err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", name, err)
	}
	objs := Objects{Secret: secretEnv(r), ConfigMap: configMap(r)}
	pod := podTemplate(r, container, objs.ConfigMap)
	if r.Spec.Stateful {
		objs.HeadlessService = headlessService(r)
		objs.StatefulSet = statefulSet(r, pod)
	} else {
		objs.Volumes = volumeClaims(r)
		objs.Deployment = deployment(r, pod)
	}
	objs.Service = service(r)
	objs.Autoscaler = autoscaler(r, objs.Kind())
	return objs, nil
}

// objectLabels are the labels of a release's objects: the component's and the release's.
func objectLabels(r Release) map[string]string {
	return merge(Labels(r.Ref), map[string]string{contract.LabelRelease: r.ReleaseID})
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
