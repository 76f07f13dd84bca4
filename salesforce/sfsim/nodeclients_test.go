package sfsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
)

// nodeDir holds the Node client tests and their lockfile.
const nodeDir = "../../test/node"

// TestNodeClients runs the real Salesforce clients (jsforce, cometd with
// cometd-nodejs-client, salesforce-pubsub-api-client) against a simulator
// started here: their test files are test/node/*.test.js. `make test`
// installs them from the lockfile and sets TEST_NODE_REQUIRED=1, so a
// missing install fails instead of skipping.
func TestNodeClients(t *testing.T) {
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules")); err != nil {
		if os.Getenv("TEST_NODE_REQUIRED") == "1" {
			t.Fatalf("the Node clients are not installed (%v): run npm ci --prefix test/node", err)
		}
		t.Skip("the Node clients are not installed: run `npm ci --prefix test/node` (make test does)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: %v", err)
	}
	keyFile, certPEM := jwtKeyPair(t)
	field := func(name, typ string) salesforce.Field {
		return salesforce.Field{Name: name, Label: name, Type: typ, Nillable: true, Createable: true}
	}
	sim, err := New(
		PlatformEvent("Order__e", field("OrderNumber__c", "string"), field("Amount__c", "double")),
		JWTCertificate(certPEM),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-force-exit")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(),
		"SIM_URL="+sim.URL(), "SIM_GRPC="+sim.GRPCAddr(), "SIM_ORG_ID="+sim.OrgID(),
		"SIM_CLIENT_ID="+DefaultClientID, "SIM_CLIENT_SECRET="+DefaultClientSecret,
		"SIM_USERNAME="+DefaultUsername, "SIM_PASSWORD="+DefaultPassword, "SIM_JWT_KEY_FILE="+keyFile,
		// The simulator's certificate is self-signed; the Pub/Sub client is
		// told so by rejectUnauthorizedSsl in the tests themselves.
		"NODE_TLS_REJECT_UNAUTHORIZED=0", "NODE_NO_WARNINGS=1",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("node --test output:\n%s", out.String())
	if err != nil {
		t.Fatalf("the Node client tests failed: %v", err)
	}
}

// jwtKeyPair writes an RSA private key for JWT bearer assertions to a file
// and returns its path and the matching certificate.
func jwtKeyPair(t *testing.T) (string, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sfconnect-jwt"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "jwt.key")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
