package extension

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSinkClientVerifiesTLS: the sinks' client refuses a certificate it
// cannot verify, and trusts a private CA given in AUDITTRAIL_CA_BUNDLE.
func TestSinkClientVerifiesTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	plain, err := httpClient("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unverifiable certificate accepted: %v", err)
	}
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	trusting, err := httpClient(bundle)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := trusting.Get(srv.URL)
	if err != nil {
		t.Fatalf("private CA not trusted: %v", err)
	}
	resp.Body.Close()
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	for _, b := range []string{notPEM, filepath.Join(t.TempDir(), "missing.pem")} {
		if _, err := httpClient(b); err == nil || !strings.Contains(err.Error(), "AUDITTRAIL_CA_BUNDLE") {
			t.Errorf("bundle %s: %v", b, err)
		}
	}
}

// TestSinkClientNeverFollowsRedirects: credentials in custom headers must
// not follow a redirect to another host.
func TestSinkClientNeverFollowsRedirects(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed, with DD-API-KEY %q", r.Header.Get("DD-API-KEY"))
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	client, _ := httpClient("")
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	req.Header.Set("DD-API-KEY", "secret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("status %d, want the redirect itself", resp.StatusCode)
	}
}
