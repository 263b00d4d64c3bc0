package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/servescope/servescope/internal/store/tsdb"
	"github.com/servescope/servescope/internal/testutil/proc"
)

func status(t *testing.T, c *http.Client, url string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestListenerBeforeReplay: while the store opens (its WAL replay held
// back here), /-/healthy answers 200 and /-/ready 503; once it is open and
// the server runs, /-/ready answers 200.
func TestListenerBeforeReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "servescope.yml")
	if err := os.WriteFile(cfgFile, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	addr := proc.FreeAddr(t)
	o := Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), ListenAddress: addr, QueryTimeout: time.Minute, QueryMaxSamples: 1e6,
		OpenStore: func(o tsdb.Options) (*tsdb.DB, error) {
			<-release
			return tsdb.Open(o)
		}}
	type made struct {
		s   *Server
		err error
	}
	created := make(chan made, 1)
	go func() {
		s, err := New(o)
		created <- made{s, err}
	}()
	base := "http://" + addr
	proc.Eventually(t, "healthy during replay", 30*time.Second, func() (bool, string) {
		code, _ := status(t, http.DefaultClient, base+"/-/healthy")
		return code == 200, fmt.Sprint(code)
	})
	if code, _ := status(t, http.DefaultClient, base+"/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready during replay: %d, want 503", code)
	}
	if code, _ := status(t, http.DefaultClient, base+"/api/v1/query?query=up"); code != http.StatusServiceUnavailable {
		t.Errorf("query during replay: %d, want 503", code)
	}
	close(release)
	m := <-created
	if m.err != nil {
		t.Fatal(m.err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	proc.WaitReady(t, "servescope", base, 30*time.Second)
}

// TestReloadKeepsConfigOnError: an empty file, a broken one and one whose
// price book is missing are refused on reload, the running targets stay,
// and the reload metrics say so; a good file then reloads.
func TestReloadKeepsConfigOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:1']}]\n"
	s := start(t, good, dir)
	cfgFile := filepath.Join(dir, "servescope.yml")
	metric := func(name string) string {
		code, body := getBody(t, s.base+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		for _, l := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				return v
			}
		}
		return ""
	}
	if v := metric("servescope_config_last_reload_successful"); v != "1" {
		t.Errorf("after start: last_reload_successful %q, want 1", v)
	}
	proc.Eventually(t, "the target discovered", 30*time.Second, func() (bool, string) {
		n := len(s.srv.scraper.Active())
		return n == 1, fmt.Sprint(n, " targets")
	})
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "empty"},
		{"comments only", "# nothing here\n", "empty"},
		{"invalid", "scrape_configs:\n  - job_name: [\n", "servescope.yml"},
		{"missing price book", good + "servescope:\n  price_book: nowhere.yml\n", "nowhere.yml"},
	} {
		if err := os.WriteFile(cfgFile, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		err := s.srv.Reload(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: reload error %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if v := metric("servescope_config_last_reload_successful"); v != "0" {
			t.Errorf("%s: last_reload_successful %q, want 0", tc.name, v)
		}
		if n := len(s.srv.scraper.Active()); n != 1 {
			t.Errorf("%s: %d active targets after the refused reload, want the running 1", tc.name, n)
		}
	}
	if err := os.WriteFile(cfgFile, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := metric("servescope_config_last_reload_successful"); v != "1" {
		t.Errorf("after a good reload: last_reload_successful %q, want 1", v)
	}
	if v := metric("servescope_config_last_reload_success_timestamp_seconds"); v == "" || v == "0" {
		t.Errorf("last_reload_success_timestamp_seconds %q", v)
	}
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	return proc.Get(t, url)
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "servescope test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestWebConfigAuthAndTLS: with a web config (Prometheus's format) every
// registered route refuses a request without credentials and with wrong
// ones, serves one with them, over TLS, with the security headers.
func TestWebConfigAuthAndTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	content := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  admin: %s\n", certFile, keyFile, hash)
	if err := os.WriteFile(webCfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "global:\n  scrape_interval: 15s\n", dir, func(o *Options) { o.WebConfigFile = webCfg })
	base := "https://" + s.srv.Addr()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)

	if code, _ := status(t, http.DefaultClient, "http://"+s.srv.Addr()+"/-/healthy"); code == 200 {
		t.Error("plain HTTP answered 200 on a TLS listener")
	}
	routes := s.srv.api.Routes()
	if len(routes) < 15 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	for _, route := range routes {
		path := strings.ReplaceAll(route, "{name}", "job")
		do := func(user, pass string) (int, http.Header) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", route, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, resp.Header
		}
		if code, _ := do("", ""); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", route, code)
		}
		if code, _ := do("admin", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, want 401", route, code)
		}
		code, h := do("admin", "s3cret")
		if code == http.StatusUnauthorized || code == 0 {
			t.Errorf("%s with credentials: %d", route, code)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: security headers missing: %v", route, h)
		}
	}
}
