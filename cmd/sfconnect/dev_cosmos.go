package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cosmosKey is the Cosmos DB emulator's public well-known account key; the
// local stand-in checks none, and the sink needs a well-formed one.
const cosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// cosmosStandIn is the local Cosmos DB API server the tests use
// (@vercel/cosmosdb-server from test/cosmos), run as a Node child process
// on 127.0.0.1 with a certificate signed by a CA made for this run.
type cosmosStandIn struct {
	endpoint string // https://127.0.0.1:<port>/
	caFile   string // PEM of the CA the sink trusts (COSMOS_CA_FILE)
	cmd      *exec.Cmd
	stdin    io.Closer
}

// errCosmosNotInstalled says the stand-in's Node modules are missing.
var errCosmosNotInstalled = errors.New("the Cosmos DB stand-in is not installed")

// startCosmosStandIn starts test/cosmos/server.js from dir on a free
// loopback port and waits (bounded) until it listens. tmp receives the
// certificates.
func startCosmosStandIn(dir, tmp string, stderr io.Writer) (*cosmosStandIn, error) {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@vercel", "cosmosdb-server")); err != nil {
		return nil, fmt.Errorf("%w in %s: run `make node-install` in the repository (or `npm ci --prefix %s && node %s`), "+
			"and run sfconnect dev from the repository's root or pass -cosmos-dir", errCosmosNotInstalled, dir, dir, filepath.Join(dir, "patch.js"))
	}
	// patch.js is idempotent; it makes the stand-in answer what the Go
	// Cosmos client expects.
	if out, err := exec.Command("node", filepath.Join(dir, "patch.js")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("patch the Cosmos DB stand-in: %v: %s", err, out)
	}
	caPEM, certFile, keyFile, err := writeLoopbackCerts(tmp)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(tmp, "cosmos-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "server.js", "0", certFile, keyFile)
	cmd.Dir = dir
	cmd.Stderr = stderr
	// Its own process group: Ctrl-C in the terminal reaches sfconnect
	// only, which stops the connectors first and the stand-in after them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	c := &cosmosStandIn{caFile: caFile, cmd: cmd, stdin: stdin}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case ready <- p:
				default:
				}
			}
		}
	}()
	select {
	case port := <-ready:
		c.endpoint = "https://" + net.JoinHostPort("127.0.0.1", port) + "/"
		return c, nil
	case <-time.After(30 * time.Second):
		c.stop()
		return nil, errors.New("the Cosmos DB stand-in did not start within 30s")
	}
}

// stop ends the child by its PID (closing its stdin first, on which it
// exits by itself) and reaps it.
func (c *cosmosStandIn) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// writeLoopbackCerts writes a server certificate and key for 127.0.0.1
// into dir, signed by a fresh CA whose PEM it returns.
func writeLoopbackCerts(dir string) (caPEM []byte, certFile, keyFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sfconnect dev CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, "", "", err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cosmos-cert.pem"), filepath.Join(dir, "cosmos-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, "", "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile, nil
}
