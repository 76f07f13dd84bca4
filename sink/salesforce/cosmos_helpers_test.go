package salesforce_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// The Cosmos DB stand-in (@vercel/cosmosdb-server, pinned in test/cosmos
// and installed by make node-install), as the Cosmos sink's own tests run
// it.
const (
	// envCosmosRequired, when "1", makes a stand-in that is not installed a
	// failure rather than a skip (scripts/test.sh sets it).
	envCosmosRequired = "TEST_COSMOS_REQUIRED"
	// cosmosKey is the Cosmos DB emulator's public well-known key; the
	// stand-in checks none.
	cosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)

// cosmosServer is a running stand-in.
type cosmosServer struct {
	endpoint, caFile string
	ca               *x509.CertPool
}

// startCosmos starts the stand-in on a free 127.0.0.1 port, serving TLS with
// a certificate signed by a CA of the test's own; it is stopped by PID when
// t ends (and exits by itself when its stdin closes).
func startCosmos(t *testing.T) *cosmosServer {
	t.Helper()
	dir := filepath.Join("..", "..", "test", "cosmos")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@vercel", "cosmosdb-server")); err != nil {
		if os.Getenv(envCosmosRequired) == "1" {
			t.Fatalf("the Cosmos DB stand-in is not installed in %s (make node-install)", dir)
		}
		t.Skipf("the Cosmos DB stand-in is not installed in %s; run make node-install, or set %s=1 to fail instead", dir, envCosmosRequired)
	}
	if out, err := exec.Command("node", filepath.Join(dir, "patch.js")).CombinedOutput(); err != nil {
		t.Fatalf("patch the stand-in: %v: %s", err, out)
	}
	tmp := t.TempDir()
	caPEM, certFile, keyFile := writeTestCerts(t, tmp)
	caFile := filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "server.js", "0", certFile, keyFile)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- p
			}
		}
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	select {
	case port := <-ready:
		return &cosmosServer{endpoint: "https://" + net.JoinHostPort("127.0.0.1", port) + "/", caFile: caFile, ca: pool}
	case <-time.After(30 * time.Second):
		t.Fatal("the Cosmos DB stand-in did not start within 30s")
		return nil
	}
}

// writeTestCerts writes a server certificate and key for 127.0.0.1, signed
// by a fresh CA whose PEM it returns.
func writeTestCerts(t *testing.T, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sfsink test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}

// cosmosDocs returns every document of a container, by id.
func cosmosDocs(t *testing.T, srv *cosmosServer, database, container string) map[string]map[string]any {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(cosmosKey)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.ca, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	cl, err := azcosmos.NewClientWithKey(srv.endpoint, cred, &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: tr}, Retry: policy.RetryOptions{MaxRetries: 3},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cl.NewContainer(database, container)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	pager := c.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	for pager.More() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		page, err := pager.NextPage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("query Cosmos documents: %v", err)
		}
		for _, it := range page.Items {
			var d map[string]any
			if err := json.Unmarshal(it, &d); err != nil {
				t.Fatal(err)
			}
			out[d["id"].(string)] = d
		}
	}
	return out
}
