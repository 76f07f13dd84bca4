package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every test's context.
const testTimeout = 20 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startSim starts a simulator over TLS, closed when the test ends.
func startSim(t *testing.T, opts ...sfsim.Opt) *sfsim.Sim {
	t.Helper()
	sim, err := sfsim.New(opts...)
	if err != nil {
		t.Fatalf("start sfsim: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// writeFile writes data to a new file in the test's temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientCredentials is the configuration of the simulator's default
// connected app, trusting its certificate.
func clientCredentials(t *testing.T, sim *sfsim.Sim) salesforce.AuthConfig {
	t.Helper()
	return salesforce.AuthConfig{
		LoginURL:     sim.URL(),
		Flow:         salesforce.FlowClientCredentials,
		ClientID:     sfsim.DefaultClientID,
		ClientSecret: sfsim.DefaultClientSecret,
		CAFile:       writeFile(t, "sfsim-ca.pem", sim.CACertPEM()),
	}
}

// recorder is an http.RoundTripper that records requests and can
// intercept them or change answers.
type recorder struct {
	base http.RoundTripper
	// intercept, when set, may answer a request itself (handled true).
	intercept func(req *http.Request, base http.RoundTripper) (resp *http.Response, err error, handled bool)
	// modify, when set, may change an answer.
	modify func(req *http.Request, resp *http.Response)

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	header       http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{method: req.Method, path: req.URL.Path, header: req.Header.Clone()})
	r.mu.Unlock()
	if r.intercept != nil {
		if resp, err, handled := r.intercept(req, r.base); handled {
			return resp, err
		}
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil && r.modify != nil {
		r.modify(req, resp)
	}
	return resp, err
}

// count returns how many recorded requests had a path starting with prefix
// (and, when method is set, that method).
func (r *recorder) count(method, prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if strings.HasPrefix(q.path, prefix) && (method == "" || q.method == method) {
			n++
		}
	}
	return n
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// tokenRequests counts OAuth token requests.
func (r *recorder) tokenRequests() int { return r.count(http.MethodPost, "/services/oauth2/token") }

// env is a simulator with an Authenticator and a Client whose HTTP
// traffic (logins and REST calls alike) goes through one recorder.
type env struct {
	t      *testing.T
	sim    *sfsim.Sim
	cfg    salesforce.AuthConfig
	rec    *recorder
	auth   *salesforce.Authenticator
	client *salesforce.Client
}

type envOpts struct {
	sim    []sfsim.Opt
	client salesforce.ClientConfig
	auth   func(*salesforce.AuthConfig)
	rec    func(*recorder)
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, sim: startSim(t, o.sim...)}
	e.cfg = clientCredentials(t, e.sim)
	if o.auth != nil {
		o.auth(&e.cfg)
	}
	hc, err := e.cfg.HTTPClient()
	if err != nil {
		t.Fatalf("HTTPClient: %v", err)
	}
	closeConns := trackConns(hc)
	e.rec = &recorder{base: hc.Transport}
	if o.rec != nil {
		o.rec(e.rec)
	}
	hc.Transport = e.rec
	// Runs before the simulator's Close (cleanups run last-in first-out).
	t.Cleanup(closeConns)
	e.auth, err = salesforce.NewAuthenticator(e.cfg, salesforce.AuthHTTPClient(hc))
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	e.client = salesforce.NewClient(e.auth, hc, o.client)
	return e
}

// trackConns makes hc's transport remember every connection it dials and
// returns a function that closes them all. Closing idle connections is not
// enough: with concurrent requests the transport may finish dialing a spare
// connection after the test is done, and the simulator's graceful shutdown
// then waits for that never-used connection for 5 s and leaves its
// goroutines behind.
func trackConns(hc *http.Client) func() {
	tr := hc.Transport.(*http.Transport)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	var mu sync.Mutex
	var conns []net.Conn
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	return func() {
		hc.CloseIdleConnections()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}
}

// jwtKeyPair returns a new RSA key and a self-signed certificate for it,
// both PEM-encoded; the key in PKCS #8 and PKCS #1 form.
func jwtKeyPair(t *testing.T) (pkcs8PEM, pkcs1PEM, certPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sfconnect test connected app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// assertNoSecrets fails the test if text contains any of secrets.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q: %s", what, s, text)
		}
	}
}
