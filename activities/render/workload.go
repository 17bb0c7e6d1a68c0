package render

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/rainflow/rainflow/contract"
)

// podTemplate is the pods' template. It carries no release label, so a deploy of an unchanged spec
// does not replace the pods; the config checksum does change it when a config file changes.
func podTemplate(r Release, c *corev1ac.ContainerApplyConfiguration, cm *corev1ac.ConfigMapApplyConfiguration) *corev1ac.PodTemplateSpecApplyConfiguration {
	pod := corev1ac.PodSpec().WithContainers(c).WithEnableServiceLinks(false)
	for _, v := range podVolumes(r, cm) {
		pod.WithVolumes(v)
	}
	if len(r.Spec.NodeSelector) > 0 {
		pod.WithNodeSelector(r.Spec.NodeSelector)
	}
	if r.Spec.StopGraceSeconds != nil {
		pod.WithTerminationGracePeriodSeconds(*r.Spec.StopGraceSeconds)
	}
	tmpl := corev1ac.PodTemplateSpec().WithLabels(Labels(r.Ref)).WithSpec(pod)
	if cm != nil {
		tmpl.WithAnnotations(map[string]string{AnnotationConfigChecksum: configChecksum(cm.Data)})
	}
	if a := secretEnvAnnotations(r); a != nil {
		tmpl.WithAnnotations(a)
	}
	return tmpl
}

// deployment runs a stateless component. Its rolling update never takes a ready replica away before
// its replacement is available, but for a component with a ReadWriteOnce volume: a new pod elsewhere
// could not mount it while an old one holds it, so the old pods go first (Recreate).
func deployment(r Release, pod *corev1ac.PodTemplateSpecApplyConfiguration) *appsv1ac.DeploymentApplyConfiguration {
	strategy := appsv1ac.DeploymentStrategy().
		WithType(appsv1.RollingUpdateDeploymentStrategyType).
		WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
			WithMaxSurge(intstr.FromInt32(1)).
			WithMaxUnavailable(intstr.FromInt32(0)))
	if hasReadWriteOnce(r) {
		strategy = appsv1ac.DeploymentStrategy().WithType(appsv1.RecreateDeploymentStrategyType)
	}
	spec := appsv1ac.DeploymentSpec().
		WithRevisionHistoryLimit(10).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(r.Ref))).
		WithStrategy(strategy).
		WithTemplate(pod)
	if r.Spec.Autoscaling == nil {
		spec.WithReplicas(r.Spec.Replicas) // else the autoscaler owns the replicas
	}
	return appsv1ac.Deployment(Name(r.Ref), Namespace(r.Ref.Tenant)).WithLabels(objectLabels(r)).WithSpec(spec)
}

// statefulSet runs a stateful component: pods <name>-0, <name>-1, ... with stable DNS names through
// the headless Service and a claim of their own per volume. Pods start and stop all at once
// (podManagementPolicy Parallel), so that a stop, a start or a scale does not wait for each pod in
// turn, and a rollout stuck on a broken pod can be rolled back without deleting it by hand; a rolling
// update still replaces one pod at a time, from the highest ordinal down. Claims stay when the
// StatefulSet is deleted or scaled down: only an explicit delete with its volumes removes them.
func statefulSet(r Release, pod *corev1ac.PodTemplateSpecApplyConfiguration) *appsv1ac.StatefulSetApplyConfiguration {
	spec := appsv1ac.StatefulSetSpec().
		WithServiceName(HeadlessServiceName(r.Ref)).
		WithPodManagementPolicy(appsv1.ParallelPodManagement).
		WithRevisionHistoryLimit(10).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(SelectorLabels(r.Ref))).
		WithUpdateStrategy(appsv1ac.StatefulSetUpdateStrategy().
			WithType(appsv1.RollingUpdateStatefulSetStrategyType).
			WithRollingUpdate(appsv1ac.RollingUpdateStatefulSetStrategy().WithPartition(0))).
		WithPersistentVolumeClaimRetentionPolicy(appsv1ac.StatefulSetPersistentVolumeClaimRetentionPolicy().
			WithWhenDeleted(appsv1.RetainPersistentVolumeClaimRetentionPolicyType).
			WithWhenScaled(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)).
		WithTemplate(pod)
	if r.Spec.Autoscaling == nil {
		spec.WithReplicas(r.Spec.Replicas)
	}
	for _, t := range claimTemplates(r) {
		spec.WithVolumeClaimTemplates(t)
	}
	return appsv1ac.StatefulSet(Name(r.Ref), Namespace(r.Ref.Tenant)).WithLabels(objectLabels(r)).WithSpec(spec)
}

// service balances the component's ports over its ready pods; nil when it has no ports.
func service(r Release) *corev1ac.ServiceApplyConfiguration {
	if len(r.Spec.Ports) == 0 {
		return nil
	}
	svc := corev1ac.ServiceSpec().WithSelector(SelectorLabels(r.Ref)).WithType(corev1.ServiceTypeClusterIP)
	for _, p := range r.Spec.Ports {
		svc.WithPorts(servicePort(p))
	}
	return corev1ac.Service(Name(r.Ref), Namespace(r.Ref.Tenant)).WithLabels(objectLabels(r)).WithSpec(svc)
}

// headlessService gives each pod of a stateful component its DNS name, ready or not (peers of a
// clustered store must find each other before they are ready).
func headlessService(r Release) *corev1ac.ServiceApplyConfiguration {
	svc := corev1ac.ServiceSpec().
		WithSelector(SelectorLabels(r.Ref)).
		WithType(corev1.ServiceTypeClusterIP).
		WithClusterIP(corev1.ClusterIPNone).
		WithPublishNotReadyAddresses(true)
	for _, p := range r.Spec.Ports {
		svc.WithPorts(servicePort(p))
	}
	return corev1ac.Service(HeadlessServiceName(r.Ref), Namespace(r.Ref.Tenant)).WithLabels(objectLabels(r)).WithSpec(svc)
}

func servicePort(p contract.Port) *corev1ac.ServicePortApplyConfiguration {
	return corev1ac.ServicePort().
		WithName(portName(p)).
		WithPort(p.Port).
		WithTargetPort(intstr.FromString(portName(p))).
		WithProtocol(protocol(p))
}

// autoscaler scales the workload between the spec's bounds on its pods' CPU use; nil without
// autoscaling.
func autoscaler(r Release, kind string) *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration {
	a := r.Spec.Autoscaling
	if a == nil {
		return nil
	}
	target := a.CPUUtilizationPercent
	if target == 0 {
		target = contract.DefaultCPUUtilizationPercent
	}
	return autoscalingv2ac.HorizontalPodAutoscaler(Name(r.Ref), Namespace(r.Ref.Tenant)).
		WithLabels(objectLabels(r)).
		WithSpec(autoscalingv2ac.HorizontalPodAutoscalerSpec().
			WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().
				WithAPIVersion(appsv1.SchemeGroupVersion.String()).
				WithKind(kind).
				WithName(Name(r.Ref))).
			WithMinReplicas(a.MinReplicas).
			WithMaxReplicas(a.MaxReplicas).
			WithMetrics(autoscalingv2ac.MetricSpec().
				WithType(autoscalingv2.ResourceMetricSourceType).
				WithResource(autoscalingv2ac.ResourceMetricSource().
					WithName(corev1.ResourceCPU).
					WithTarget(autoscalingv2ac.MetricTarget().
						WithType(autoscalingv2.UtilizationMetricType).
						WithAverageUtilization(target)))))
}
