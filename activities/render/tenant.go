package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/contract"
)

// Objects of a tenant's namespace.
const (
	LimitRangeName    = "rainflow-defaults"
	ResourceQuotaName = "rainflow-quota"
)

// Requests and limits a container gets from its namespace's LimitRange when it sets none. The
// requests are small, so that a small node still runs dozens of idle components (the scheduler counts
// requests, not use); the limits keep one runaway container from starving its node.
const (
	DefaultCPURequest    = "25m"
	DefaultMemoryRequest = "64Mi"
	DefaultCPULimit      = "1"
	DefaultMemoryLimit   = "512Mi"
)

// TenantObjects renders a tenant namespace's LimitRange (defaults for containers that set no
// resources; an empty field of defaults takes its Default* constant) and ResourceQuota (nil without a
// quota).
func TenantObjects(ns string, labels map[string]string, d contract.Resources, q *contract.TenantQuota) (*corev1ac.LimitRangeApplyConfiguration, *corev1ac.ResourceQuotaApplyConfiguration, error) {
	requests, err := quantities(map[corev1.ResourceName]string{
		corev1.ResourceCPU: or(d.CPURequest, DefaultCPURequest), corev1.ResourceMemory: or(d.MemoryRequest, DefaultMemoryRequest)})
	if err != nil {
		return nil, nil, fmt.Errorf("container defaults: %w", err)
	}
	limits, err := quantities(map[corev1.ResourceName]string{
		corev1.ResourceCPU: or(d.CPULimit, DefaultCPULimit), corev1.ResourceMemory: or(d.MemoryLimit, DefaultMemoryLimit)})
	if err != nil {
		return nil, nil, fmt.Errorf("container defaults: %w", err)
	}
	lr := corev1ac.LimitRange(LimitRangeName, ns).WithLabels(labels).WithSpec(corev1ac.LimitRangeSpec().
		WithLimits(corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer).WithDefaultRequest(requests).WithDefault(limits)))
	if q == nil {
		return lr, nil, nil
	}
	hard, err := quantities(map[corev1.ResourceName]string{
		corev1.ResourceRequestsCPU: q.CPURequests, corev1.ResourceLimitsCPU: q.CPULimits,
		corev1.ResourceRequestsMemory: q.MemoryRequests, corev1.ResourceLimitsMemory: q.MemoryLimits,
		corev1.ResourceRequestsStorage: q.Storage,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("quota: %w", err)
	}
	if q.Pods > 0 {
		hard[corev1.ResourcePods] = *resource.NewQuantity(int64(q.Pods), resource.DecimalSI)
	}
	if q.Volumes > 0 {
		hard[corev1.ResourcePersistentVolumeClaims] = *resource.NewQuantity(int64(q.Volumes), resource.DecimalSI)
	}
	return lr, corev1ac.ResourceQuota(ResourceQuotaName, ns).WithLabels(labels).WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard)), nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
