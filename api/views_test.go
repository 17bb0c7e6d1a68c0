package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/store"
)

// TestComponentLinksEncodeAsAMap: a component's links are a struct for speed, and answer the JSON a
// map of the same links answers (the other views' form, and this one's before): keys sorted.
func TestComponentLinksEncodeAsAMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		tenant, app, component string
	}{
		{name: "short names", tenant: "acme", app: "shop", component: "web"},
		{name: "long names", tenant: "tenant-" + strings.Repeat("t", 50), app: "a-1", component: "worker-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newComponentView(store.Tenant{Name: tt.tenant}, store.App{Name: tt.app}, store.Component{Name: tt.component})
			asMap := map[string]string{}
			rv, rt := reflect.ValueOf(v.Links), reflect.TypeOf(v.Links)
			for i := range rt.NumField() {
				name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
				require.NotEmpty(t, rv.Field(i).String(), "link %s is set", name)
				asMap[name] = rv.Field(i).String()
			}
			want, err := json.Marshal(asMap)
			require.NoError(t, err)
			got, err := json.Marshal(v.Links)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
			self := "/v1/tenants/" + tt.tenant + "/apps/" + tt.app + "/components/" + tt.component
			require.Equal(t, self, v.Links.Self)
			require.Equal(t, self+"/secret-env", v.Links.SecretEnv)
		})
	}
}
