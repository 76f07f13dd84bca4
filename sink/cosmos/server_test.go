package cosmos

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables of the integration tests.
const (
	// envCosmosRequired, when "1", makes a Cosmos DB stand-in that cannot
	// start a test failure instead of a skip (scripts/test.sh sets it).
	envCosmosRequired = "TEST_COSMOS_REQUIRED"
)

// emulatorKey is the public, well-known key of the Cosmos DB emulator; the
// stand-in checks no key at all.
const emulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// serverDir holds the pinned stand-in (package.json, patch.js, server.js).
var serverDir = filepath.Join("..", "..", "test", "cosmos")

// testServer is one running @vercel/cosmosdb-server, shared by the tests of
// the package (each uses its own container).
type testServer struct {
	endpoint string
	caFile   string
	addr     string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	err      error
}

var (
	sharedOnce   sync.Once
	sharedServer *testServer
	sharedDir    string
)

// cosmosServer returns the package's Cosmos DB stand-in, starting it on
// first use. Without node_modules it skips, unless TEST_COSMOS_REQUIRED=1.
func cosmosServer(t testing.TB) *testServer {
	t.Helper()
	sharedOnce.Do(func() { sharedServer = startServer() })
	if err := sharedServer.err; err != nil {
		if os.Getenv(envCosmosRequired) != "1" && strings.Contains(err.Error(), "not installed") {
			t.Skipf("Cosmos DB stand-in unavailable (%v); run make node-install, or set %s=1 to fail instead", err, envCosmosRequired)
		}
		t.Fatalf("Cosmos DB stand-in: %v", err)
	}
	return sharedServer
}

// stopSharedServer stops the stand-in by its PID (TestMain).
func stopSharedServer() {
	if sharedServer != nil && sharedServer.cmd != nil {
		_ = sharedServer.stdin.Close()
		_ = sharedServer.cmd.Process.Kill()
		_ = sharedServer.cmd.Wait()
	}
	if sharedDir != "" {
		_ = os.RemoveAll(sharedDir)
	}
}

func startServer() *testServer {
	if _, err := os.Stat(filepath.Join(serverDir, "node_modules", "@vercel", "cosmosdb-server")); err != nil {
		return &testServer{err: fmt.Errorf("@vercel/cosmosdb-server not installed in %s", serverDir)}
	}
	// The install step patches; patching again is a no-op, and makes a
	// hand-run npm ci safe too.
	if out, err := exec.Command("node", filepath.Join(serverDir, "patch.js")).CombinedOutput(); err != nil {
		return &testServer{err: fmt.Errorf("patch cosmosdb-server: %v: %s", err, out)}
	}
	dir, err := os.MkdirTemp("", "sfconnect-cosmos-")
	if err != nil {
		return &testServer{err: err}
	}
	sharedDir = dir
	ca, cert, key, err := writeCerts(dir)
	if err != nil {
		return &testServer{err: err}
	}
	cmd := exec.Command("node", "server.js", "0", cert, key)
	cmd.Dir = serverDir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return &testServer{err: err}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &testServer{err: err}
	}
	if err := cmd.Start(); err != nil {
		return &testServer{err: fmt.Errorf("start node: %w", err)}
	}
	s := &testServer{caFile: ca, cmd: cmd, stdin: stdin}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- p
			}
		}
	}()
	select {
	case port := <-ready:
		if _, err := strconv.Atoi(port); err != nil {
			s.err = fmt.Errorf("server printed port %q", port)
			return s
		}
		s.addr = net.JoinHostPort("127.0.0.1", port)
		s.endpoint = "https://" + s.addr + "/"
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s.cmd = nil
		s.err = fmt.Errorf("cosmosdb-server did not start within 30s")
	}
	return s
}

// writeCerts writes a CA and a server certificate for 127.0.0.1 signed by
// it, so that the tests verify TLS as production does.
func writeCerts(dir string) (caFile, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sfconnect test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return "", "", "", err
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string]*pem.Block{
		caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: srvDER},
		keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			return "", "", "", err
		}
	}
	return caFile, certFile, keyFile, nil
}

// defaultConfig returns a Config with every field at its documented
// default (the `default` tags), as LoadEnv would fill it from an empty
// environment.
func defaultConfig() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		d, ok := f.Tag.Lookup("default")
		if !ok {
			continue
		}
		fv := v.Field(i)
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			dur, err := time.ParseDuration(d)
			if err != nil {
				panic(err)
			}
			fv.SetInt(int64(dur))
		case f.Type.Kind() == reflect.String:
			fv.SetString(d)
		case f.Type.Kind() == reflect.Bool:
			fv.SetBool(d == "true")
		default:
			n, err := strconv.ParseInt(d, 10, 64)
			if err != nil {
				panic(err)
			}
			fv.SetInt(n)
		}
	}
	return c
}

// testConfig is the configuration of a sink writing to a container of its
// own on the stand-in, verifying TLS against the test CA.
func (s *testServer) testConfig(container string) Config {
	c := defaultConfig()
	c.Endpoint, c.Key, c.CAFile = s.endpoint, emulatorKey, s.caFile
	c.Database, c.Container, c.CreateIfMissing = "sfconnect", container, true
	return c
}

// containerName returns a container name unique to t.
func containerName(t testing.TB) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%.60s-%x", n, b)
}
