package collector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "data dir is enough", cfg: Config{DataDir: "x"}},
		{name: "data dir is required", cfg: Config{}, wantErr: "collector data dir is empty"},
		{name: "bad listen", cfg: Config{DataDir: "x", Listen: "7482"}, wantErr: `collector listen address "7482"`},
		{name: "tiny lines", cfg: Config{DataDir: "x", MaxLineBytes: 10}, wantErr: "collector max line bytes 10"},
		{name: "batch below a line", cfg: Config{DataDir: "x", MaxLineBytes: 4096, MaxBatchBytes: 1024}, wantErr: "collector max batch bytes 1024 is below max line bytes 4096"},
		{name: "negative sync interval", cfg: Config{DataDir: "x", SyncInterval: -time.Millisecond}, wantErr: "collector sync interval -1ms is negative"},
		{name: "tiny segments", cfg: Config{DataDir: "x", SegmentBytes: 100}, wantErr: "collector segment bytes 100 is below 4096"},
		{name: "negative tail buffer", cfg: Config{DataDir: "x", Tail: TailConfig{Buffer: -1}}, wantErr: "collector tail buffer -1 is below 1"},
		{name: "retention too short", cfg: Config{DataDir: "x", Retention: RetentionConfig{Build: Retention{MaxAge: time.Second}}}, wantErr: "collector retention of build max age 1s is below 1m"},
		{name: "retention too small", cfg: Config{DataDir: "x", Retention: RetentionConfig{Event: Retention{MaxBytes: 10}}}, wantErr: "collector retention of event max bytes 10 is below 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
	week := Retention{MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30}
	assert.Equal(t, Config{Listen: "127.0.0.1:7482", DataDir: "x", MaxLineBytes: 64 << 10, MaxBatchBytes: 8 << 20,
		SyncInterval: 5 * time.Millisecond, SegmentBytes: 64 << 20, IdleClose: 5 * time.Minute, ShutdownTimeout: 10 * time.Second,
		Tail:      TailConfig{Buffer: 4096, PingInterval: 30 * time.Second, WriteTimeout: 10 * time.Second},
		Retention: RetentionConfig{Event: week, Build: week, Runtime: week, Access: week, SweepInterval: time.Minute}},
		Config{DataDir: "x"}.withDefaults())
}
