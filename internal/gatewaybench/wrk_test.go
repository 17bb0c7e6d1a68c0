package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWrk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		out     string
		want    wrkResult
		wantErr bool
	}{
		{
			name: "latency distribution",
			out: `Running 5s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    1.10ms  30.00ms   90.00%
    Req/Sec    16.20k     1.20k   18.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    2.10ms
     90%    3.00ms
     99%    5.67ms
  161234 requests in 5.00s, 30.00MB read
Requests/sec:  32246.80
Transfer/sec:      6.00MB
`,
			want: wrkResult{Requests: 161234, PerSecond: 32246.80, P50: 812 * time.Microsecond, P99: 5670 * time.Microsecond},
		},
		{
			name: "errors are counted",
			out: `  Latency Distribution
     50%    1.00s
     99%    2.50s
  100 requests in 5.00s, 1.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:     20.00
`,
			want: wrkResult{Requests: 100, PerSecond: 20, P50: time.Second, P99: 2500 * time.Millisecond, Errors: 10},
		},
		{name: "no result", out: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseWrk(tt.out)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
