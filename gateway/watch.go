package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// watcher runs the informers on Ingress, Service, EndpointSlice and kubernetes.io/tls Secret (one
// factory per watched namespace, or one for all, and one more for the Secrets, whose list is narrowed by
// type) and lists their caches for a build. Its events only signal a change; they carry no data.
type watcher struct {
	factories []informers.SharedInformerFactory
	scopes    []scope
}

// scope is the listers of one factory.
type scope struct {
	ingresses networkinglisters.IngressLister
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	secrets   corelisters.SecretLister
}

// newWatcher sets up the informers; onChange is called (from informer goroutines) on every relevant event.
func newWatcher(kube kubernetes.Interface, namespaces []string, resync time.Duration, class string, onChange func()) (*watcher, error) {
	if len(namespaces) == 0 {
		namespaces = []string{""} // all namespaces
	}
	w := &watcher{}
	anyChange := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	// An Ingress of another class matters only when it is, or was, of ours.
	ours := func(obj any) bool {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		ing, ok := obj.(*networkingv1.Ingress)
		return !ok || (ing.Spec.IngressClassName != nil && *ing.Spec.IngressClassName == class)
	}
	ingressEvents := cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ours(obj) {
				onChange()
			}
		},
		UpdateFunc: func(old, obj any) {
			if ours(old) || ours(obj) {
				onChange()
			}
		},
		DeleteFunc: func(obj any) {
			if ours(obj) {
				onChange()
			}
		},
	}
	for _, ns := range namespaces {
		opts := []informers.SharedInformerOption{informers.WithTransform(stripManagedFields)}
		if ns != "" {
			opts = append(opts, informers.WithNamespace(ns))
		}
		f := informers.NewSharedInformerFactoryWithOptions(kube, resync, opts...)
		ing := f.Networking().V1().Ingresses()
		svc := f.Core().V1().Services()
		eps := f.Discovery().V1().EndpointSlices()
		for _, reg := range []struct {
			name     string
			informer cache.SharedIndexInformer
			handler  cache.ResourceEventHandler
		}{
			{"ingress", ing.Informer(), ingressEvents},
			{"service", svc.Informer(), anyChange},
			{"endpointslice", eps.Informer(), anyChange},
		} {
			if _, err := reg.informer.AddEventHandler(reg.handler); err != nil {
				return nil, fmt.Errorf("add %s event handler: %w", reg.name, err)
			}
		}
		// Only TLS Secrets, in a factory of their own since the field selector applies to all its informers.
		sf := informers.NewSharedInformerFactoryWithOptions(kube, resync, append(opts,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = "type=" + string(corev1.SecretTypeTLS)
			}))...)
		sec := sf.Core().V1().Secrets()
		if _, err := sec.Informer().AddEventHandler(anyChange); err != nil {
			return nil, fmt.Errorf("add secret event handler: %w", err)
		}
		w.factories = append(w.factories, f, sf)
		w.scopes = append(w.scopes, scope{ingresses: ing.Lister(), services: svc.Lister(), slices: eps.Lister(),
			secrets: sec.Lister()})
	}
	return w, nil
}

// start runs the informers until ctx is done.
func (w *watcher) start(ctx context.Context) {
	for _, f := range w.factories {
		f.StartWithContext(ctx)
	}
}

// waitForSync blocks until every informer has listed its objects once, or ctx is done.
func (w *watcher) waitForSync(ctx context.Context) error {
	for _, f := range w.factories {
		if err := f.WaitForCacheSyncWithContext(ctx).AsError(); err != nil {
			return fmt.Errorf("sync informer caches: %w", err)
		}
	}
	return nil
}

// shutdown stops the informers and waits for their goroutines.
func (w *watcher) shutdown() {
	for _, f := range w.factories {
		f.Shutdown()
	}
}

// objects lists every cached object, for one build.
func (w *watcher) objects() (Objects, error) {
	var out Objects
	var errs []error
	for _, s := range w.scopes {
		ing, err := s.ingresses.List(labels.Everything())
		errs = append(errs, err)
		svc, err := s.services.List(labels.Everything())
		errs = append(errs, err)
		eps, err := s.slices.List(labels.Everything())
		errs = append(errs, err)
		secrets, err := s.secrets.List(labels.Everything())
		errs = append(errs, err)
		out.Secrets = append(out.Secrets, secrets...)
		out.Ingresses = append(out.Ingresses, ing...)
		out.Services = append(out.Services, svc...)
		out.EndpointSlices = append(out.EndpointSlices, eps...)
	}
	if err := errors.Join(errs...); err != nil {
		return Objects{}, fmt.Errorf("list cached objects: %w", err)
	}
	return out, nil
}

// stripManagedFields drops managedFields from cached objects: the gateway never reads them and they are
// often the largest part of an object.
func stripManagedFields(obj any) (any, error) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetManagedFields(nil)
	}
	return obj, nil
}
