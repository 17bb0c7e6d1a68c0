package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.temporal.io/sdk/activity"

	"github.com/rainflow/rainflow/build/artifact"
	"github.com/rainflow/rainflow/build/kobuild"
	"github.com/rainflow/rainflow/build/source"
	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/imageref"
)

// Builds holds the activities that build: they read the source (an uploaded archive from the
// registry, or an image to import), detect what it is, build it with the builder that fits, and push
// the image to the platform's registry. A build's output goes to its log stream as it is made.
type Builds struct {
	// Registry reaches the registries: the platform's (sources and built images) and the ones images
	// are imported from.
	Registry *Registry
	// WorkDir holds each build's source while it builds (removed after); default the OS's temp dir.
	WorkDir string
	// Go builds Go main packages without a daemon; nil: Go sources build on BuildKit like the others.
	Go *kobuild.Builder
	// GoBase is the image the Go builder adds the binary onto (a static base: CA certificates, tzdata).
	GoBase string
	// BuildKit builds Dockerfiles (the source's and generated ones); no address: those builders are
	// not available on this worker.
	BuildKit BuildKitConfig
	// ArchiveLimits bound an uploaded archive once extracted; MaxArchiveBytes the archive itself.
	ArchiveLimits   source.Limits
	MaxArchiveBytes int64
	// Output receives the build's output lines (the collector's build stream); nil drops them.
	Output func(BuildOutputLine)
	// Git says how git sources are reached.
	Git GitConfig
	// Credentials opens the source credentials builds name (build_credentials.go); nil: builds that
	// name one fail.
	Credentials CredentialOpener
}

// BuildOutputLine is one line of a build's output.
type BuildOutputLine struct {
	Ref         contract.ComponentRef
	OperationID string
	Step        string // fetch, detect, build, push
	Level       string // info, warn, error
	Message     string
	Time        time.Time
}

// DefaultMaxArchiveBytes bounds an uploaded archive.
const DefaultMaxArchiveBytes = 256 << 20

// ResolveSource pins the source to the revision a build builds: the uploaded archive's digest, the
// image's digest in its registry, or the commit a git ref names.
func (b *Builds) ResolveSource(ctx context.Context, in ResolveSourceInput) (ResolveSourceResult, error) {
	switch in.Source.Kind {
	case contract.SourceArchive:
		d, err := name.NewDigest(in.Source.Archive, b.nameOpts(in.Source.Archive)...)
		if err != nil {
			return ResolveSourceResult{}, permanent(ErrTypeInvalidSource, fmt.Errorf("archive %q is not pinned by digest: %w", in.Source.Archive, err))
		}
		return ResolveSourceResult{Revision: d.DigestStr()}, nil
	case contract.SourceImage:
		return b.resolveImage(ctx, in.Source)
	case contract.SourceGit:
		return b.resolveGit(ctx, in.Source)
	default:
		return ResolveSourceResult{}, permanent(ErrTypeInvalidSource, fmt.Errorf("source kind %q cannot be built by this worker", in.Source.Kind))
	}
}

// BuildImage builds one pinned source and pushes the image; it heartbeats its phase and fails for
// good when the build itself failed (saying which step and why) or the source cannot be built.
func (b *Builds) BuildImage(ctx context.Context, in BuildImageInput) (contract.BuildResult, error) {
	repo, err := name.NewRepository(in.Repository, b.nameOpts(in.Repository)...)
	if err != nil {
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, fmt.Errorf("repository %q: %w", in.Repository, err))
	}
	out := &buildLog{b: b, in: in}
	stop := heartbeatEvery(ctx, 10*time.Second, out.progress)
	defer stop()
	switch in.Source.Kind {
	case contract.SourceImage:
		return b.importImage(ctx, in, repo, out)
	case contract.SourceArchive, contract.SourceGit:
		dir, err := os.MkdirTemp(b.WorkDir, "build-")
		if err != nil {
			return contract.BuildResult{}, fmt.Errorf("create build dir: %w", err)
		}
		defer os.RemoveAll(dir)
		fetch := b.fetchArchive
		if in.Source.Kind == contract.SourceGit {
			fetch = b.fetchGit
		}
		src, err := fetch(ctx, in, dir, out)
		if err != nil {
			return contract.BuildResult{}, err
		}
		return b.buildSource(ctx, in, src, repo, out)
	default:
		return contract.BuildResult{}, permanent(ErrTypeInvalidSource, fmt.Errorf("source kind %q cannot be built by this worker", in.Source.Kind))
	}
}

// importImage copies the pinned source image into the component's repository.
func (b *Builds) importImage(ctx context.Context, in BuildImageInput, repo name.Repository, out *buildLog) (contract.BuildResult, error) {
	out.phase("import", "copy "+in.Source.Image+" at "+in.Revision)
	srcRef, err := imageref.Parse(in.Source.Image, b.Registry.Insecure)
	if err != nil {
		return contract.BuildResult{}, permanent(ErrTypeInvalidImage, err)
	}
	pinned := srcRef.Context().Digest(in.Revision)
	opts, err := b.sourceImageOptions(ctx, in.Source, pinned)
	if err != nil {
		return contract.BuildResult{}, err
	}
	img, err := remote.Image(pinned, opts...)
	if err != nil {
		if imageref.IsNotFound(err) {
			return contract.BuildResult{}, permanent(ErrTypeImageNotFound, fmt.Errorf("image %s not found", pinned))
		}
		if imageref.IsDenied(err) {
			return contract.BuildResult{}, permanent(ErrTypeForbidden, fmt.Errorf("read image %s: %w", pinned, err))
		}
		return contract.BuildResult{}, fmt.Errorf("read image %s: %w", pinned, err)
	}
	return b.push(ctx, in, repo, img, contract.BuilderImport, "", out)
}

// fetchArchive reads the uploaded archive from the registry and extracts it under dir.
func (b *Builds) fetchArchive(ctx context.Context, in BuildImageInput, dir string, out *buildLog) (string, error) {
	out.phase("fetch", "fetch "+in.Source.ArchiveName)
	d, err := name.NewDigest(in.Source.Archive, b.nameOpts(in.Source.Archive)...)
	if err != nil {
		return "", permanent(ErrTypeInvalidSource, fmt.Errorf("archive %q: %w", in.Source.Archive, err))
	}
	limit := b.MaxArchiveBytes
	if limit <= 0 {
		limit = DefaultMaxArchiveBytes
	}
	file, err := artifact.Fetch(ctx, d, dir, limit, b.remoteOpts(ctx)...)
	if errors.Is(err, artifact.ErrNotArtifact) || (err != nil && strings.Contains(err.Error(), "over the limit")) {
		return "", permanent(ErrTypeInvalidSource, err)
	}
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	res, err := source.Extract(ctx, file, src, b.ArchiveLimits)
	if err != nil {
		return "", permanent(ErrTypeInvalidSource, fmt.Errorf("extract %s: %w", in.Source.ArchiveName, err))
	}
	_ = os.Remove(file)
	out.info(fmt.Sprintf("extracted %d entries, %d bytes (%s)", res.Files, res.Bytes, res.Format))
	return src, nil
}

// push writes the image to the component's repository, tagged with the build's operation, and answers
// it by digest with its size.
func (b *Builds) push(ctx context.Context, in BuildImageInput, repo name.Repository, img v1.Image, builder, language string, out *buildLog) (contract.BuildResult, error) {
	digest, err := img.Digest()
	if err != nil {
		return contract.BuildResult{}, fmt.Errorf("digest image: %w", err)
	}
	out.phase("push", "push "+repo.Digest(digest.String()).String())
	tag := repo.Tag("build-" + in.OperationID)
	if err := kobuild.Push(ctx, tag, img, b.remoteOpts(ctx)...); err != nil {
		return contract.BuildResult{}, err
	}
	size, err := imageSize(img)
	if err != nil {
		return contract.BuildResult{}, err
	}
	return contract.BuildResult{Image: repo.Digest(digest.String()).String(), Revision: in.Revision, Builder: builder,
		Language: language, Size: size}, nil
}

// imageSize is the image's manifest, config and compressed layers, in bytes.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("read image manifest: %w", err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, fmt.Errorf("read image manifest: %w", err)
	}
	return size + int64(len(raw)), nil
}

func (b *Builds) nameOpts(ref string) []name.Option {
	if r, err := name.ParseReference(ref); err == nil && imageref.PlainHTTP(r.Context().RegistryStr(), b.Registry.Insecure) {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (b *Builds) remoteOpts(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	if b.Registry.Transport != nil {
		opts = append(opts, remote.WithTransport(b.Registry.Transport))
	}
	return opts
}

// buildLog writes a build's output lines and remembers its phase for the heartbeat.
type buildLog struct {
	b  *Builds
	in BuildImageInput

	mu   sync.Mutex
	step string
	last string
}

func (l *buildLog) phase(phase, msg string) {
	l.mu.Lock()
	l.step = phase
	l.mu.Unlock()
	l.write("info", msg)
}

func (l *buildLog) info(msg string) { l.write("info", msg) }

func (l *buildLog) write(level, msg string) {
	l.mu.Lock()
	l.last = msg
	step := l.step
	l.mu.Unlock()
	if l.b.Output != nil {
		l.b.Output(BuildOutputLine{Ref: l.in.Ref, OperationID: l.in.OperationID, Step: step, Level: level, Message: msg, Time: time.Now()})
	}
}

func (l *buildLog) progress() any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return BuildProgress{Phase: l.step, Line: l.last}
}

// heartbeatEvery heartbeats what details answers, at once and then every period, until stop.
func heartbeatEvery(ctx context.Context, period time.Duration, details func() any) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			activity.RecordHeartbeat(ctx, details())
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}
