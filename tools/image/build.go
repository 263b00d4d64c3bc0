package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths and the user inside the image. The chart runs the pod as the same
// UID (securityContext.runAsUser) and mounts its volume on DataDir.
const (
	BinaryPath = "/usr/local/bin/servescope"
	CACertPath = "/etc/ssl/certs/ca-certificates.crt"
	DataDir    = "/data"
	UID        = 65534
	User       = "65534:65534"
	Port       = "9464/tcp"
)

// Options says what to put into the image and where to write it.
type Options struct {
	Binary   string // static servescope binary
	Out      string // OCI layout directory, replaced
	Ref      string // reference recorded as org.opencontainers.image.ref.name
	Version  string
	Revision string
	Source   string
	Arch     string
	CACerts  string // CA bundle to copy if it exists; "" for none
	Created  time.Time
}

// Result describes the written image.
type Result struct {
	Digest           v1.Hash
	Size             int64 // manifest, config and compressed layers
	UncompressedSize int64
	Layers           int
}

// Build writes the image as an OCI layout in o.Out.
func Build(o Options) (Result, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return Result{}, fmt.Errorf("read binary: %w", err)
	}
	var certs []byte
	if o.CACerts != "" {
		certs, err = os.ReadFile(o.CACerts)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Result{}, fmt.Errorf("read CA certificates: %w", err)
		}
	}
	img, err := Image(o, bin, certs)
	if err != nil {
		return Result{}, err
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return Result{}, fmt.Errorf("clear %s: %w", o.Out, err)
	}
	p, err := layout.Write(o.Out, empty.Index)
	if err != nil {
		return Result{}, fmt.Errorf("write layout %s: %w", o.Out, err)
	}
	// ref.name holds the tag, as skopeo's oci:DIR:TAG and the OCI spec
	// expect; containerd's annotation the whole reference.
	anns := map[string]string{"org.opencontainers.image.ref.name": Tag(o.Ref), "io.containerd.image.name": o.Ref}
	if err := p.AppendImage(img, layout.WithAnnotations(anns)); err != nil {
		return Result{}, fmt.Errorf("write image to %s: %w", o.Out, err)
	}
	return describe(img)
}

// Tag is the tag of a reference (after the last colon following the last
// slash), "latest" when it has none.
func Tag(ref string) string {
	name := ref
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndex(name, "/")
	if i := strings.LastIndex(name, ":"); i > slash {
		return name[i+1:]
	}
	return "latest"
}

// Image assembles the image from the binary and the CA bundle (nil for
// none), in memory.
func Image(o Options, bin, certs []byte) (v1.Image, error) {
	base, err := tarLayer(rootFiles(certs), o.Created)
	if err != nil {
		return nil, fmt.Errorf("root layer: %w", err)
	}
	app, err := tarLayer([]file{
		{name: "usr/", mode: 0o755 | fs.ModeDir},
		{name: "usr/local/", mode: 0o755 | fs.ModeDir},
		{name: "usr/local/bin/", mode: 0o755 | fs.ModeDir},
		{name: BinaryPath[1:], mode: 0o755, data: bin},
	}, o.Created)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, base, app)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = o.Arch
	cf.Created = v1.Time{Time: o.Created}
	cf.Author = "servescope"
	cf.Config = v1.Config{
		Entrypoint:   []string{BinaryPath},
		Cmd:          []string{"serve", "--config=/etc/servescope/servescope.yml", "--storage.path=" + DataDir, "--web.listen-address=0.0.0.0:9464"},
		User:         User,
		WorkingDir:   DataDir,
		ExposedPorts: map[string]struct{}{Port: {}},
		Env:          []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=" + CACertPath},
		Labels:       labels(o),
	}
	cf.History = []v1.History{
		{Created: cf.Created, CreatedBy: "servescope tools/image: passwd, group, CA certificates, /tmp, " + DataDir},
		{Created: cf.Created, CreatedBy: "servescope tools/image: " + BinaryPath},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return img, nil
}

// labels are the OCI annotation keys as image labels.
func labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "servescope",
		"org.opencontainers.image.description": "Observability for LLM serving on Kubernetes GPUs",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
		"org.opencontainers.image.ref.name":    o.Ref,
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// rootFiles is the minimal root: a passwd and group naming root and the
// non-root user, the CA bundle when there is one, a sticky /tmp and the
// data directory owned by the user.
func rootFiles(certs []byte) []file {
	files := []file{
		{name: "etc/", mode: 0o755 | fs.ModeDir},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
	}
	if certs != nil {
		files = append(files,
			file{name: "etc/ssl/", mode: 0o755 | fs.ModeDir},
			file{name: "etc/ssl/certs/", mode: 0o755 | fs.ModeDir},
			file{name: CACertPath[1:], mode: 0o644, data: certs})
	}
	return append(files,
		file{name: "tmp/", mode: 0o777 | fs.ModeDir | fs.ModeSticky},
		file{name: DataDir[1:] + "/", mode: 0o755 | fs.ModeDir, uid: UID})
}

// file is one entry of a layer; a name ending in / with ModeDir is a
// directory.
type file struct {
	name string
	mode fs.FileMode
	uid  int
	data []byte
}

// tarLayer makes a gzip-compressed OCI layer of files, every time set to t.
func tarLayer(files []file, t time.Time) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: int64(f.mode.Perm()), Uid: f.uid, Gid: f.uid,
			ModTime: t, AccessTime: t, ChangeTime: t, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(f.data)),
		}
		if f.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.mode.IsDir() {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	content := b.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// describe sums the sizes of the image's blobs.
func describe(img v1.Image) (Result, error) {
	var r Result
	var err error
	if r.Digest, err = img.Digest(); err != nil {
		return r, err
	}
	m, err := img.Manifest()
	if err != nil {
		return r, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return r, err
	}
	r.Size = int64(len(raw)) + m.Config.Size
	layers, err := img.Layers()
	if err != nil {
		return r, err
	}
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return r, err
		}
		r.Size += s
		u, err := l.Uncompressed()
		if err != nil {
			return r, err
		}
		n, err := io.Copy(io.Discard, u)
		u.Close()
		if err != nil {
			return r, err
		}
		r.UncompressedSize += n
	}
	r.Layers = len(layers)
	return r, nil
}
