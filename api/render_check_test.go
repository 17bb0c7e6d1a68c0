package api

// The property the spec validators promise (validate_spec.go): a spec the API accepts renders into
// Kubernetes objects the apiserver accepts. The apiserver's own validation (k8s.io/kubernetes) is not
// importable, so renderedProblems checks the rendered objects with the apimachinery functions it is
// built on, rule by rule, for what the render can produce. The test imports activities/render (the
// api package itself never does) to render exactly what a deploy would apply.

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

// renderSpec renders the spec of component in app of tenant as a deploy of it would.
func renderSpec(tenant, app, component string, spec contract.ComponentSpec) (render.Objects, error) {
	var deps []contract.Dependency
	for _, d := range spec.DependsOn {
		deps = append(deps, contract.Dependency{Component: d, Ports: []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}}})
	}
	return render.Render(render.Release{
		Ref:       contract.ComponentRef{Tenant: tenant, App: app, Component: component},
		ReleaseID: "0123456789abcdef", Image: "registry.example:5000/shop/web@sha256:" + strings.Repeat("a", 64),
		Spec: spec, Dependencies: deps,
	})
}

// typed converts an apply configuration into its API type, through JSON as the apiserver reads it.
func typed[T any](ac any) (T, error) {
	var out T
	b, err := json.Marshal(ac)
	if err == nil {
		err = json.Unmarshal(b, &out)
	}
	return out, err
}

// checker collects what the apiserver would refuse.
type checker struct{ errs []string }

func (c *checker) add(path string, msgs ...string) {
	for _, m := range msgs {
		c.errs = append(c.errs, path+": "+m)
	}
}

func (c *checker) list(errs field.ErrorList) {
	for _, e := range errs {
		c.errs = append(c.errs, e.Error())
	}
}

// renderedProblems answers what the apiserver would refuse in the objects, empty when nothing.
func renderedProblems(objs render.Objects) []string {
	c := &checker{}
	convert := func(what string, err error) bool {
		if err != nil {
			c.add(what, "convert: "+err.Error())
		}
		return err == nil
	}
	if objs.ConfigMap != nil {
		if cm, err := typed[corev1.ConfigMap](objs.ConfigMap); convert("configMap", err) {
			c.meta("configMap", cm.ObjectMeta, apimachineryvalidation.NameIsDNSSubdomain)
			size := 0
			for k, v := range cm.Data {
				c.add("configMap.data["+k+"]", validation.IsConfigMapKey(k)...)
				size += len(k) + len(v)
			}
			if size > corev1.MaxSecretSize {
				c.add("configMap", fmt.Sprintf("data holds %d bytes, more than %d", size, corev1.MaxSecretSize))
			}
		}
	}
	for i, v := range objs.Volumes {
		if pvc, err := typed[corev1.PersistentVolumeClaim](v); convert("volumes", err) {
			p := fmt.Sprintf("volumes[%d]", i)
			c.meta(p, pvc.ObjectMeta, apimachineryvalidation.NameIsDNSSubdomain)
			c.claimSpec(p+".spec", pvc.Spec)
		}
	}
	for name, svc := range map[string]*corev1ac.ServiceApplyConfiguration{"service": objs.Service, "headlessService": objs.HeadlessService} {
		if svc == nil {
			continue
		}
		if s, err := typed[corev1.Service](svc); convert(name, err) {
			c.service(name, s)
		}
	}
	var selector *metav1.LabelSelector
	var template corev1.PodTemplateSpec
	var claims []corev1.PersistentVolumeClaim
	switch {
	case objs.Deployment != nil:
		if d, err := typed[appsv1.Deployment](objs.Deployment); convert("deployment", err) {
			c.meta("deployment", d.ObjectMeta, apimachineryvalidation.NameIsDNSSubdomain)
			if d.Spec.Replicas != nil && *d.Spec.Replicas < 0 {
				c.add("deployment.spec.replicas", "must be greater than or equal to 0")
			}
			selector, template = d.Spec.Selector, d.Spec.Template
		}
	case objs.StatefulSet != nil:
		if s, err := typed[appsv1.StatefulSet](objs.StatefulSet); convert("statefulSet", err) {
			c.meta("statefulSet", s.ObjectMeta, apimachineryvalidation.NameIsDNSSubdomain)
			c.add("statefulSet.spec.serviceName", validation.IsDNS1123Label(s.Spec.ServiceName)...)
			// pods are labelled controller-revision-hash=<name>-<10 characters>
			c.add("statefulSet.metadata.name", validation.IsValidLabelValue(s.Name+"-0123456789")...)
			selector, template, claims = s.Spec.Selector, s.Spec.Template, s.Spec.VolumeClaimTemplates
			for i, pvc := range claims {
				p := fmt.Sprintf("statefulSet.spec.volumeClaimTemplates[%d]", i)
				c.add(p+".metadata.name", validation.IsDNS1123Label(pvc.Name)...)
				c.claimSpec(p+".spec", pvc.Spec)
			}
		}
	default:
		c.add("workload", "neither a Deployment nor a StatefulSet")
	}
	if selector != nil || template.Spec.Containers != nil {
		c.workload(selector, template, claims)
	}
	if objs.Autoscaler != nil {
		if h, err := typed[autoscalingv2.HorizontalPodAutoscaler](objs.Autoscaler); convert("autoscaler", err) {
			c.meta("autoscaler", h.ObjectMeta, apimachineryvalidation.NameIsDNSSubdomain)
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 {
				c.add("autoscaler.spec.minReplicas", "must be at least 1")
			} else if h.Spec.MaxReplicas < *h.Spec.MinReplicas {
				c.add("autoscaler.spec.maxReplicas", "must be at least minReplicas")
			}
			c.add("autoscaler.spec.scaleTargetRef.name", apimachineryvalidation.NameIsDNSSubdomain(h.Spec.ScaleTargetRef.Name, false)...)
			for i, m := range h.Spec.Metrics {
				if m.Resource != nil && m.Resource.Target.AverageUtilization != nil && *m.Resource.Target.AverageUtilization < 1 {
					c.add(fmt.Sprintf("autoscaler.spec.metrics[%d]", i), "averageUtilization must be at least 1")
				}
			}
		}
	}
	return c.errs
}

func (c *checker) meta(p string, m metav1.ObjectMeta, name apimachineryvalidation.ValidateNameFunc) {
	c.list(apimachineryvalidation.ValidateObjectMeta(&m, true, name, field.NewPath(p, "metadata")))
}

func (c *checker) claimSpec(p string, s corev1.PersistentVolumeClaimSpec) {
	if len(s.AccessModes) == 0 {
		c.add(p+".accessModes", "at least one access mode is required")
	}
	for _, m := range s.AccessModes {
		if m != corev1.ReadWriteOnce && m != corev1.ReadWriteMany && m != corev1.ReadOnlyMany && m != corev1.ReadWriteOncePod {
			c.add(p+".accessModes", fmt.Sprintf("unsupported %q", m))
		}
	}
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
		c.add(p+".resources.requests.storage", "must be greater than zero")
	}
	if s.StorageClassName != nil {
		c.add(p+".storageClassName", validation.IsDNS1123Subdomain(*s.StorageClassName)...)
	}
}

func (c *checker) service(p string, s corev1.Service) {
	c.meta(p, s.ObjectMeta, apimachineryvalidation.NameIsDNS1035Label)
	if len(s.Spec.Ports) == 0 && s.Spec.ClusterIP != corev1.ClusterIPNone {
		c.add(p+".spec.ports", "a Service other than a headless one needs a port")
	}
	names, ports := map[string]bool{}, map[string]bool{}
	for i, sp := range s.Spec.Ports {
		pp := fmt.Sprintf("%s.spec.ports[%d]", p, i)
		if len(s.Spec.Ports) > 1 || sp.Name != "" {
			c.add(pp+".name", validation.IsDNS1123Label(sp.Name)...)
		}
		if names[sp.Name] {
			c.add(pp+".name", "duplicate")
		}
		names[sp.Name] = true
		key := fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)
		if ports[key] {
			c.add(pp, "duplicate port "+key)
		}
		ports[key] = true
		c.add(pp+".port", validation.IsValidPortNum(int(sp.Port))...)
		c.protocol(pp+".protocol", sp.Protocol)
		c.intOrName(pp+".targetPort", sp.TargetPort)
	}
	c.list(metav1validation.ValidateLabels(s.Spec.Selector, field.NewPath(p, "spec", "selector")))
}

func (c *checker) protocol(p string, proto corev1.Protocol) {
	if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP && proto != corev1.ProtocolSCTP {
		c.add(p, fmt.Sprintf("unsupported %q", proto))
	}
}

func (c *checker) intOrName(p string, v intstr.IntOrString) {
	if v.Type == intstr.String {
		c.add(p, validation.IsValidPortName(v.StrVal)...)
		return
	}
	c.add(p, validation.IsValidPortNum(v.IntValue())...)
}

// workload checks a Deployment's or StatefulSet's selector and pod template.
func (c *checker) workload(selector *metav1.LabelSelector, t corev1.PodTemplateSpec, claims []corev1.PersistentVolumeClaim) {
	const p = "workload.spec"
	if selector == nil || len(selector.MatchLabels)+len(selector.MatchExpressions) == 0 {
		c.add(p+".selector", "required")
	} else {
		c.list(metav1validation.ValidateLabelSelector(selector, metav1validation.LabelSelectorValidationOptions{}, field.NewPath(p, "selector")))
		if s, err := metav1.LabelSelectorAsSelector(selector); err != nil || !s.Matches(labels.Set(t.Labels)) {
			c.add(p+".template.metadata.labels", "do not match the selector")
		}
	}
	c.list(metav1validation.ValidateLabels(t.Labels, field.NewPath(p, "template", "metadata", "labels")))
	c.list(apimachineryvalidation.ValidateAnnotations(t.Annotations, field.NewPath(p, "template", "metadata", "annotations")))
	spec := t.Spec
	c.list(metav1validation.ValidateLabels(spec.NodeSelector, field.NewPath(p, "template", "spec", "nodeSelector")))
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		c.add(p+".template.spec.terminationGracePeriodSeconds", "must be greater than or equal to 0")
	}
	volumes := map[string]bool{}
	for i, v := range spec.Volumes {
		vp := fmt.Sprintf("%s.template.spec.volumes[%d]", p, i)
		c.add(vp+".name", validation.IsDNS1123Label(v.Name)...)
		if volumes[v.Name] {
			c.add(vp+".name", "duplicate")
		}
		volumes[v.Name] = true
		if v.ConfigMap != nil {
			c.add(vp+".configMap.name", validation.IsDNS1123Subdomain(v.ConfigMap.Name)...)
		}
		if v.PersistentVolumeClaim != nil {
			c.add(vp+".persistentVolumeClaim.claimName", validation.IsDNS1123Subdomain(v.PersistentVolumeClaim.ClaimName)...)
		}
	}
	for _, claim := range claims {
		volumes[claim.Name] = true
	}
	if len(spec.Containers) == 0 {
		c.add(p+".template.spec.containers", "required")
	}
	containers, portNames := map[string]bool{}, map[string]bool{}
	for i, ctr := range spec.Containers {
		cp := fmt.Sprintf("%s.template.spec.containers[%d]", p, i)
		c.add(cp+".name", validation.IsDNS1123Label(ctr.Name)...)
		if containers[ctr.Name] {
			c.add(cp+".name", "duplicate")
		}
		containers[ctr.Name] = true
		if strings.TrimSpace(ctr.Image) == "" {
			c.add(cp+".image", "required")
		}
		for j, port := range ctr.Ports {
			pp := fmt.Sprintf("%s.ports[%d]", cp, j)
			c.add(pp+".containerPort", validation.IsValidPortNum(int(port.ContainerPort))...)
			c.protocol(pp+".protocol", port.Protocol)
			if port.Name != "" {
				c.add(pp+".name", validation.IsValidPortName(port.Name)...)
				if portNames[port.Name] {
					c.add(pp+".name", "duplicate")
				}
				portNames[port.Name] = true
			}
		}
		for j, e := range ctr.Env {
			c.add(fmt.Sprintf("%s.env[%d].name", cp, j), validation.IsEnvVarName(e.Name)...)
		}
		mounted := map[string]bool{}
		for j, m := range ctr.VolumeMounts {
			mp := fmt.Sprintf("%s.volumeMounts[%d]", cp, j)
			if !volumes[m.Name] {
				c.add(mp+".name", fmt.Sprintf("%q is not a volume of the pod", m.Name))
			}
			if m.MountPath == "" {
				c.add(mp+".mountPath", "required")
			}
			if mounted[m.MountPath] {
				c.add(mp+".mountPath", "must be unique")
			}
			mounted[m.MountPath] = true
			if m.SubPath != "" && (path.IsAbs(m.SubPath) || strings.Contains("/"+m.SubPath+"/", "/../")) {
				c.add(mp+".subPath", "must be a relative path without ..")
			}
		}
		for name, q := range ctr.Resources.Requests {
			if l, ok := ctr.Resources.Limits[name]; ok && q.Cmp(l) > 0 {
				c.add(fmt.Sprintf("%s.resources.requests[%s]", cp, name), "must be less than or equal to its limit")
			}
			if q.Sign() < 0 {
				c.add(fmt.Sprintf("%s.resources.requests[%s]", cp, name), "must not be negative")
			}
		}
		for name, pr := range map[string]*corev1.Probe{"readinessProbe": ctr.ReadinessProbe, "livenessProbe": ctr.LivenessProbe, "startupProbe": ctr.StartupProbe} {
			if pr == nil {
				continue
			}
			pp := cp + "." + name
			switch {
			case pr.HTTPGet != nil:
				c.intOrName(pp+".httpGet.port", pr.HTTPGet.Port)
				if !strings.HasPrefix(pr.HTTPGet.Path, "/") {
					c.add(pp+".httpGet.path", "must start with /")
				}
			case pr.TCPSocket != nil:
				c.intOrName(pp+".tcpSocket.port", pr.TCPSocket.Port)
			default:
				c.add(pp, "must have a handler")
			}
			if pr.PeriodSeconds < 0 || pr.FailureThreshold < 0 || pr.SuccessThreshold < 0 || pr.TimeoutSeconds < 0 {
				c.add(pp, "times and thresholds must not be negative")
			}
			if (name == "livenessProbe" || name == "startupProbe") && pr.SuccessThreshold > 1 {
				c.add(pp+".successThreshold", "must be 1")
			}
		}
	}
}

// TestRenderedProblems: the checks pass what a valid spec renders, and catch what the apiserver would
// refuse.
func TestRenderedProblems(t *testing.T) {
	t.Parallel()
	objs, err := renderSpec("acme", "shop", "web", validSpec())
	if err != nil {
		t.Fatal(err)
	}
	if errs := renderedProblems(objs); len(errs) > 0 {
		t.Fatalf("a valid spec's objects: %v", errs)
	}
	objs.Deployment.Spec.Template.Spec.Containers[0].WithName("Not_A_Label")
	objs.Service.Spec.Ports[0].WithPort(0)
	objs.Deployment.Spec.Template.Labels["bad key!"] = "x"
	errs := strings.Join(renderedProblems(objs), "\n")
	for _, want := range []string{"containers[0].name", "service.spec.ports[0].port", "template.metadata.labels"} {
		if !strings.Contains(errs, want) {
			t.Errorf("no problem about %s in:\n%s", want, errs)
		}
	}
}
