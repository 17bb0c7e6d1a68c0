package gateway

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// eventComponent is the source of the gateway's Kubernetes Events.
const eventComponent = "rainflow-gateway"

// eventSink tells the owners of Ingresses and Services what the gateway could not use, where they look
// (kubectl describe, kubectl get events): a Warning Event on the object when a problem appears and a
// Normal one when it is gone. client-go's recorder aggregates repeats and rate-limits per object; every
// gateway replica reports what it sees.
type eventSink struct {
	kube        kubernetes.Interface
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

func newEventSink(kube kubernetes.Interface) *eventSink {
	b := record.NewBroadcaster()
	return &eventSink{kube: kube, broadcaster: b,
		recorder: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent})}
}

// start begins writing Events to the API server; stop flushes what it can and ends.
func (e *eventSink) start() {
	e.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
}

func (e *eventSink) stop() { e.broadcaster.Shutdown() }

// appeared records a Warning Event for a new problem.
func (e *eventSink) appeared(p Problem) {
	if ref := p.reference(); ref != nil {
		e.recorder.Event(ref, corev1.EventTypeWarning, eventReason(p.Reason), p.Detail)
	}
}

// resolved records a Normal Event once a problem is gone.
func (e *eventSink) resolved(p Problem) {
	if ref := p.reference(); ref != nil {
		e.recorder.Event(ref, corev1.EventTypeNormal, eventReason(p.Reason)+"Resolved", "resolved: "+p.Detail)
	}
}

// reference is the object the problem is about ("Ingress ns/name" or "Service ns/name"); nil when the
// problem names no namespaced object.
func (p Problem) reference() *corev1.ObjectReference {
	kind, rest, ok := strings.Cut(p.Object, " ")
	if !ok {
		return nil
	}
	ns, name, ok := strings.Cut(rest, "/")
	if !ok || ns == "" || name == "" {
		return nil
	}
	ref := &corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name, UID: p.UID}
	switch kind {
	case "Ingress":
		ref.APIVersion = "networking.k8s.io/v1"
	case "Service":
		ref.APIVersion = "v1"
	default:
		return nil
	}
	return ref
}

// eventReason turns a problem reason ("invalid-annotation") into an Event reason ("InvalidAnnotation").
func eventReason(reason string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(reason, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
