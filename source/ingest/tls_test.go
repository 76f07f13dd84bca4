package ingest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	client                    tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, ip bool) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, true)
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth, false)
	p := &testPKI{
		caFile: write("ca.pem", "CERTIFICATE", caDER), certFile: write("server.pem", "CERTIFICATE", srvDER),
		keyFile: write("server-key.pem", "EC PRIVATE KEY", srvKeyDER), pool: x509.NewCertPool(),
		client: tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey},
	}
	p.pool.AddCert(ca)
	return p
}

// TestServer_TLSAndMutualTLS: with a certificate the endpoint serves TLS
// 1.2+ only; Outbound Messages with mtls need a verified client
// certificate (401 without), while webhooks with hmac work without one.
func TestServer_TLSAndMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	c := kafkatest.NewFake(t)
	base := kafkatest.Topic(t, "ingest")
	cfg := testConfig(base)
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSClientCAFile = pki.certFile, pki.keyFile, pki.caFile
	cfg.OutboundAuth = AuthMTLS
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := startIngest(t, c, cfg, "tls", connectorlib.DeliveryExactlyOnce)
	if !strings.HasPrefix(h.srv.URL(), "https://") {
		t.Fatalf("URL %s", h.srv.URL())
	}
	client := func(cert *tls.Certificate, maxVersion uint16) *http.Client {
		tc := &tls.Config{RootCAs: pki.pool, MaxVersion: maxVersion}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
	}
	post := func(cl *http.Client, endpoint, ctype string, body []byte, hdr map[string]string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL()+"/"+endpoint, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", ctype)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := cl.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	om := outboundBody(sfsim.DefaultOrgID, "04l8a00000000T1")
	if code, err := post(client(nil, 0), EndpointOutbound, "text/xml", om, nil); err != nil || code != 401 {
		t.Fatalf("outbound without a client certificate: %d %v; want 401", code, err)
	}
	if code, err := post(client(&pki.client, 0), EndpointOutbound, "text/xml", om, nil); err != nil || code != 200 {
		t.Fatalf("outbound with a client certificate: %d %v; want 200", code, err)
	}
	wh := []byte(`{"attributes":{"type":"Contact"},"Id":"0038a000000001AAA0"}`)
	if code, err := post(client(nil, 0), EndpointWebhook, "application/json", wh,
		map[string]string{"X-Sfconnect-Signature": Sign([]byte(testSecret), wh)}); err != nil || code != 200 {
		t.Fatalf("signed webhook without a client certificate: %d %v; want 200", code, err)
	}
	if _, err := post(client(&pki.client, tls.VersionTLS11), EndpointWebhook, "application/json", wh, nil); err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
}
