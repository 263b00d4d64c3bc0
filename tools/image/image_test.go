package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// buildBinary builds servescope as `make image` does (static, CGO off) with
// version and revision linked in.
func buildBinary(t *testing.T, version, revision string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "servescope")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-C", "../..", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version+" -X main.revision="+revision,
		"-o", bin, "./cmd/servescope")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// readImage opens the layout and returns the image recorded under ref.
func readImage(t *testing.T, dir, ref string) (v1.Image, v1.Descriptor) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("%d manifests in the layout, want 1", len(m.Manifests))
	}
	d := m.Manifests[0]
	if got := d.Annotations["io.containerd.image.name"]; got != ref {
		t.Errorf("image name %q, want %q", got, ref)
	}
	if got, want := d.Annotations["org.opencontainers.image.ref.name"], Tag(ref); got != want {
		t.Errorf("ref.name %q, want %q", got, want)
	}
	if d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want OCI", d.MediaType)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, d
}

// filesystem flattens the image and returns regular files by path, and
// the headers of every entry.
func filesystem(t *testing.T, img v1.Image) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimSuffix(h.Name, "/")
		headers[name] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
	}
	return files, headers
}

// TestImage builds the image from a freshly built binary, reads the layout
// back, checks its configuration and file system, and runs the binary taken
// out of the image.
func TestImage(t *testing.T) {
	const version, revision, ref = "9.8.7", "abc123", "ghcr.io/servescope/servescope:9.8.7"
	bin := buildBinary(t, version, revision)
	out := filepath.Join(t.TempDir(), "oci")
	o := Options{
		Binary: bin, Out: out, Ref: ref, Version: version, Revision: revision,
		Source: "https://example.org/servescope", Arch: runtime.GOARCH,
		CACerts: "/etc/ssl/certs/ca-certificates.crt", Created: time.Unix(1700000000, 0).UTC(),
	}
	res, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	img, desc := readImage(t, out, ref)
	if desc.Digest != res.Digest {
		t.Errorf("layout digest %s, Build reported %s", desc.Digest, res.Digest)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{BinaryPath}) || len(c.Cmd) == 0 || c.Cmd[0] != "serve" {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65534:65534" {
		t.Errorf("user %q, want the non-root 65534:65534", c.User)
	}
	if _, ok := c.ExposedPorts["9464/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.source":   "https://example.org/servescope",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}
	if !cf.Created.Time.Equal(o.Created) {
		t.Errorf("created %v, want %v", cf.Created, o.Created)
	}

	files, headers := filesystem(t, img)
	if !strings.Contains(string(files["/etc/passwd"]), "nobody:x:65534:65534:") {
		t.Errorf("/etc/passwd lacks the non-root user:\n%s", files["/etc/passwd"])
	}
	if _, err := os.Stat(o.CACerts); err == nil && len(files[CACertPath]) == 0 {
		t.Error("CA certificates missing from the image")
	}
	if h := headers[DataDir]; h == nil || h.Typeflag != tar.TypeDir || h.Uid != UID {
		t.Errorf("%s is not a directory owned by %d: %+v", DataDir, UID, h)
	}
	if h := headers["/tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp is not world-writable and sticky: %+v", h)
	}
	if h := headers[BinaryPath]; h == nil || h.Mode&0o111 == 0 {
		t.Fatalf("%s missing or not executable: %+v", BinaryPath, h)
	}
	// The binary as it is in the image runs (same kernel and architecture).
	extracted := filepath.Join(t.TempDir(), "servescope")
	if err := os.WriteFile(extracted, files[BinaryPath], 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.CommandContext(t.Context(), extracted, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("servescope --version from the image: %v\n%s", err, got)
	}
	// servescope <version> (revision <revision>[, <build date>]) <go version>
	if want := "servescope " + version + " (revision " + revision; !strings.HasPrefix(strings.TrimSpace(string(got)), want) {
		t.Errorf("--version printed %q, want it to start with %q", got, want)
	}

	// Same inputs, same digest: the build is reproducible.
	again, err := Build(Options{
		Binary: bin, Out: filepath.Join(t.TempDir(), "oci"), Ref: ref, Version: version, Revision: revision,
		Source: o.Source, Arch: o.Arch, CACerts: o.CACerts, Created: o.Created,
	})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != res.Digest {
		t.Errorf("rebuild gave digest %s, first build %s", again.Digest, res.Digest)
	}
	if res.Size < int64(len(files[BinaryPath]))/4 || res.UncompressedSize < int64(len(files[BinaryPath])) {
		t.Errorf("sizes %+v implausible for a %d-byte binary", res, len(files[BinaryPath]))
	}
}

// TestImageWithoutCACerts builds an image on a machine without a CA bundle:
// no certificate file, everything else unchanged.
func TestImageWithoutCACerts(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "servescope")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "oci")
	if _, err := Build(Options{Binary: bin, Out: out, Ref: "r:1", Arch: "arm64", CACerts: filepath.Join(t.TempDir(), "absent.crt")}); err != nil {
		t.Fatal(err)
	}
	img, _ := readImage(t, out, "r:1")
	files, _ := filesystem(t, img)
	if _, ok := files[CACertPath]; ok {
		t.Error("CA bundle written although the build machine has none")
	}
	if !bytes.Equal(files[BinaryPath], []byte("#!/bin/sh\n")) {
		t.Error("binary content changed")
	}
}

func TestTag(t *testing.T) {
	for ref, want := range map[string]string{
		"ghcr.io/servescope/servescope:0.1.0": "0.1.0",
		"localhost:5000/servescope":           "latest",
		"localhost:5000/servescope:v2":        "v2",
		"servescope@sha256:abc":               "latest",
	} {
		if got := Tag(ref); got != want {
			t.Errorf("Tag(%q) = %q, want %q", ref, got, want)
		}
	}
}

// TestRunFlags refuses a missing required flag.
func TestRunFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-out", t.TempDir()}, &out); err == nil {
		t.Error("no error without -binary and -ref")
	}
	if err := run([]string{"-binary", filepath.Join(t.TempDir(), "absent"), "-out", t.TempDir(), "-ref", "r:1"}, &out); err == nil || !strings.Contains(err.Error(), "read binary") {
		t.Errorf("missing binary: %v", err)
	}
}
