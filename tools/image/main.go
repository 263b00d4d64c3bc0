// Command image builds servescope's container image as an OCI image layout
// without a Docker daemon and without pulling a base image: one layer holds a
// minimal root (passwd and group entries for the non-root user, CA
// certificates when the build machine has them, writable /tmp and /data), a
// second layer the static servescope binary. `make image` runs it; push the
// result with `crane push DIR REF` or `skopeo copy oci:DIR:TAG docker://REF`.
//
// The output is reproducible: every file time and the image's creation time
// come from -created (SOURCE_DATE_EPOCH in the Makefile), so the same binary
// gives the same digest.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	var created int64
	fs.StringVar(&o.Binary, "binary", "", "path of the static servescope binary (CGO_ENABLED=0, GOOS=linux)")
	fs.StringVar(&o.Out, "out", "", "directory of the OCI image layout; replaced if it exists")
	fs.StringVar(&o.Ref, "ref", "", "image reference recorded in the layout, e.g. ghcr.io/servescope/servescope:0.1.0")
	fs.StringVar(&o.Version, "version", "dev", "servescope version (the image's version label)")
	fs.StringVar(&o.Revision, "revision", "", "source revision (the image's revision label)")
	fs.StringVar(&o.Source, "source", "https://github.com/servescope/servescope", "source repository (the image's source label)")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "architecture the binary was built for")
	fs.StringVar(&o.CACerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image when present; empty for none")
	fs.Int64Var(&created, "created", 0, "Unix time of the image and its files (SOURCE_DATE_EPOCH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Binary == "" || o.Out == "" || o.Ref == "" {
		return fmt.Errorf("-binary, -out and -ref are required")
	}
	o.Created = time.Unix(created, 0).UTC()
	res, err := Build(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", o.Out, o.Ref)
	fmt.Fprintf(stdout, "digest %s\n", res.Digest)
	fmt.Fprintf(stdout, "size %s bytes compressed (%s MiB; manifest, config and %d layers), %s bytes uncompressed layers\n",
		strconv.FormatInt(res.Size, 10), strconv.FormatFloat(float64(res.Size)/(1<<20), 'f', 1, 64), res.Layers,
		strconv.FormatInt(res.UncompressedSize, 10))
	return nil
}
