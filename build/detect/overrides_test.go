package detect

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string
		want    Overrides
		wantErr string
	}{
		{
			name: "every field",
			yaml: "language: Node\nversion: \"20\"\nbuilder: generated\nports: [8080, \"53/udp\", \"9000\"]\nenv: {A: \"1\"}\nstart: node x.js\nmain: ./cmd/x\n",
			want: Overrides{Language: Node, Version: "20", Builder: BuilderGenerated,
				Ports: []Port{{8080, "tcp"}, {53, "udp"}, {9000, "tcp"}}, Env: map[string]string{"A": "1"}, Start: "node x.js", Main: "./cmd/x"},
		},
		{name: "empty file", yaml: "", want: Overrides{}},
		{name: "unknown field is named", yaml: "ports: [80]\nstartCommand: x\n", wantErr: `unknown field "startCommand"`},
		{name: "unknown language", yaml: "language: cobol\n", wantErr: `language: unknown language "cobol"`},
		{name: "unknown builder", yaml: "builder: kaniko\n", wantErr: `builder: unknown builder "kaniko"`},
		{name: "port out of range", yaml: "ports: [70000]\n", wantErr: "ports[0]: port 70000 is out of range"},
		{name: "bad protocol", yaml: "ports: [\"80/sctp\"]\n", wantErr: `ports[0]: protocol "sctp" is not tcp or udp`},
		{name: "port of the wrong type", yaml: "ports: [{port: 80}]\n", wantErr: `ports[0]: want a number or "number/protocol"`},
		{name: "bad env name", yaml: "env: {\"1A\": x}\n", wantErr: `env: "1A" is not a valid variable name`},
		{name: "wrong type", yaml: "env: [a]\n", wantErr: "parse rainflow.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseOverrides([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("overrides = %+v, want %+v", got, tc.want)
			}
		})
	}
}
