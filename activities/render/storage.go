package render

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/rainflow/rainflow/contract"
)

// maxConfigKey is the longest ConfigMap key.
const maxConfigKey = 253

// configKeys derives a ConfigMap key from each config file's path: the path without its leading "/",
// with "/" and every character a key may not hold as "_" ("/etc/app/app.conf" is etc_app_app.conf).
// Two paths that would share a key, or a key too long, get a hash of their path appended instead, so
// the keys depend only on the set of paths.
func configKeys(files []contract.ConfigFile) map[string]string {
	base := map[string]string{}
	count := map[string]int{}
	for _, f := range files {
		var b strings.Builder
		for _, c := range strings.TrimPrefix(f.Path, "/") {
			if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' {
				b.WriteRune(c)
			} else {
				b.WriteByte('_')
			}
		}
		base[f.Path] = b.String()
		count[b.String()]++
	}
	keys := make(map[string]string, len(base))
	for p, k := range base {
		if count[k] > 1 || len(k) > maxConfigKey {
			sum := sha256.Sum256([]byte(p))
			k = k[:min(len(k), maxConfigKey-9)] + "-" + hex.EncodeToString(sum[:])[:8]
		}
		keys[p] = k
	}
	return keys
}

// configData is the ConfigMap's data: each config file's content under its key.
func configData(r Release) map[string]string {
	keys := configKeys(r.Spec.ConfigFiles)
	data := make(map[string]string, len(keys))
	for _, f := range r.Spec.ConfigFiles {
		data[keys[f.Path]] = f.Content
	}
	return data
}

// configChecksum is the SHA-256 of the data, keys in order.
func configChecksum(data map[string]string) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(data[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// configMap holds the config files; nil when the component has none.
func configMap(r Release) *corev1ac.ConfigMapApplyConfiguration {
	if len(r.Spec.ConfigFiles) == 0 {
		return nil
	}
	return corev1ac.ConfigMap(ConfigMapName(r.Ref), Namespace(r.Ref.Tenant)).
		WithLabels(objectLabels(r)).
		WithData(configData(r))
}

// accessMode is a volume's access mode, ReadWriteOnce unless it says otherwise.
func accessMode(v contract.Volume) corev1.PersistentVolumeAccessMode {
	if v.AccessMode == contract.AccessReadWriteMany {
		return corev1.ReadWriteMany
	}
	return corev1.ReadWriteOnce
}

// claimSpec is the PersistentVolumeClaim spec of a volume; its size was checked.
func claimSpec(v contract.Volume) *corev1ac.PersistentVolumeClaimSpecApplyConfiguration {
	spec := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(accessMode(v)).
		WithResources(corev1ac.VolumeResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(v.Size)}))
	if v.StorageClass != "" {
		spec.WithStorageClassName(v.StorageClass)
	}
	return spec
}

// sortedVolumes are the spec's volumes by name.
func sortedVolumes(r Release) []contract.Volume {
	vols := append([]contract.Volume(nil), r.Spec.Volumes...)
	sort.Slice(vols, func(i, j int) bool { return vols[i].Name < vols[j].Name })
	return vols
}

// volumeClaims are a stateless component's PersistentVolumeClaims, one per volume, by name.
func volumeClaims(r Release) []*corev1ac.PersistentVolumeClaimApplyConfiguration {
	var out []*corev1ac.PersistentVolumeClaimApplyConfiguration
	for _, v := range sortedVolumes(r) {
		out = append(out, corev1ac.PersistentVolumeClaim(VolumeClaimName(r.Ref, v.Name), Namespace(r.Ref.Tenant)).
			WithLabels(objectLabels(r)).
			WithSpec(claimSpec(v)))
	}
	return out
}

// claimTemplates are a stateful component's volumeClaimTemplates. Kubernetes refuses to change them
// once the StatefulSet exists, so they carry no release label: a new release renders them the same.
// Their labels (the component's) are copied onto every claim, so a delete finds the claims.
func claimTemplates(r Release) []*corev1ac.PersistentVolumeClaimApplyConfiguration {
	var out []*corev1ac.PersistentVolumeClaimApplyConfiguration
	for _, v := range sortedVolumes(r) {
		out = append(out, (&corev1ac.PersistentVolumeClaimApplyConfiguration{}).
			WithName(v.Name).
			WithLabels(Labels(r.Ref)).
			WithSpec(claimSpec(v)))
	}
	return out
}

// podVolumes are the pod's volumes, by name: the config files' ConfigMap and, for a stateless
// component, each volume's claim (a StatefulSet adds its claims itself).
func podVolumes(r Release, cm *corev1ac.ConfigMapApplyConfiguration) []*corev1ac.VolumeApplyConfiguration {
	var out []*corev1ac.VolumeApplyConfiguration
	if cm != nil {
		out = append(out, corev1ac.Volume().WithName(configVolume).
			WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(*cm.Name)))
	}
	if !r.Spec.Stateful {
		for _, v := range sortedVolumes(r) {
			out = append(out, corev1ac.Volume().WithName(v.Name).
				WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(VolumeClaimName(r.Ref, v.Name))))
		}
	}
	sort.Slice(out, func(i, j int) bool { return *out[i].Name < *out[j].Name })
	return out
}

// hasReadWriteOnce tells whether a volume can be mounted on one node only.
func hasReadWriteOnce(r Release) bool {
	for _, v := range r.Spec.Volumes {
		if accessMode(v) == corev1.ReadWriteOnce {
			return true
		}
	}
	return false
}
