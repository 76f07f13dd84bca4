package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// simHelperEnv makes the test binary run `sfconnect <args>` instead of its
// tests: TestSimHelperProcess reads the arguments, one per line, from it.
const simHelperEnv = "SFCONNECT_TEST_SIM_ARGS"

// TestSimHelperProcess is not a test: it is the child process the sim
// tests start, running the command with the arguments in simHelperEnv
// and exiting with its code.
func TestSimHelperProcess(t *testing.T) {
	args, ok := os.LookupEnv(simHelperEnv)
	if !ok {
		return
	}
	os.Exit(run(strings.Split(args, "\n"), os.Stdout, os.Stderr))
}

// simConfig is a simulator configuration file with a custom object and a
// platform event.
const simConfig = `{
  "objects": [{
    "name": "Invoice__c", "label": "Invoice", "labelPlural": "Invoices", "keyPrefix": "a01", "custom": true,
    "createable": true, "updateable": true, "deletable": true, "queryable": true,
    "fields": [
      {"name": "Id", "label": "Record ID", "type": "id", "length": 18, "defaultedOnCreate": true, "idLookup": true},
      {"name": "IsDeleted", "label": "Deleted", "type": "boolean", "defaultedOnCreate": true},
      {"name": "Name", "label": "Name", "type": "string", "length": 80, "createable": true, "updateable": true},
      {"name": "Total__c", "label": "Total", "type": "currency", "precision": 18, "scale": 2, "nillable": true, "createable": true, "updateable": true},
      {"name": "CreatedDate", "label": "Created Date", "type": "datetime", "nillable": true, "defaultedOnCreate": true},
      {"name": "CreatedById", "label": "Created By ID", "type": "reference", "length": 18, "nillable": true, "defaultedOnCreate": true, "referenceTo": ["User"]},
      {"name": "LastModifiedDate", "label": "Last Modified Date", "type": "datetime", "nillable": true, "defaultedOnCreate": true},
      {"name": "LastModifiedById", "label": "Last Modified By ID", "type": "reference", "length": 18, "nillable": true, "defaultedOnCreate": true, "referenceTo": ["User"]},
      {"name": "SystemModstamp", "label": "System Modstamp", "type": "datetime", "nillable": true, "defaultedOnCreate": true}
    ]
  }],
  "platformEvents": {"Shipment__e": [{"name": "Carrier__c", "label": "Carrier", "type": "string", "length": 40, "nillable": true}]}
}`

// readyLine is what `sfconnect sim` prints once it serves.
var readyLine = regexp.MustCompile(`^sfsim ready http=(https?://127\.0\.0\.1:(\d+)) grpc=(127\.0\.0\.1:(\d+))$`)

// simProcess is a running `sfconnect sim` child process.
type simProcess struct {
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
	url      string
	grpcAddr string
	// markExited records that the process was waited for.
	markExited func()
}

// startSim starts `sfconnect sim args...` and waits for its ready line.
func startSim(t *testing.T, args ...string) *simProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSimHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), simHelperEnv+"="+strings.Join(append([]string{"sim"}, args...), "\n"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &simProcess{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("sfconnect sim printed no ready line; stderr: %s", p.stderr)
		}
		m := readyLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("ready line %q does not match %s", line, readyLine)
		}
		if m[2] == "0" || m[4] == "0" {
			t.Fatalf("ready line %q names port 0, not the port bound", line)
		}
		p.url, p.grpcAddr = m[1], m[3]
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line within 20s; stderr: %s", p.stderr)
	}
	p.markExited = func() { exited = true }
	return p
}

// stop sends SIGTERM and returns the exit code.
func (p *simProcess) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		p.markExited()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		t.Fatalf("sfconnect sim did not stop within 15s of SIGTERM")
		return -1
	}
}

// oauthLogin runs the client_credentials flow against baseURL and returns
// the access token.
func oauthLogin(t *testing.T, client *http.Client, baseURL string) string {
	t.Helper()
	resp, err := client.PostForm(baseURL+"/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sfsim.DefaultClientID}, "client_secret": {sfsim.DefaultClientSecret},
	})
	if err != nil {
		t.Fatalf("OAuth: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("OAuth: %d %+v %v", resp.StatusCode, tok, err)
	}
	if tok.InstanceURL != baseURL {
		t.Fatalf("instance_url %q, want %q", tok.InstanceURL, baseURL)
	}
	return tok.AccessToken
}

// restGet calls GET on the REST API and returns the status.
func restGet(t *testing.T, client *http.Client, baseURL, token, path string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+"/services/data/v62.0"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// getTopic calls the Pub/Sub GetTopic with creds.
func getTopic(t *testing.T, addr string, creds credentials.TransportCredentials, baseURL, token, topic string) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "accesstoken", token, "instanceurl", baseURL, "tenantid", sfsim.DefaultOrgID)
	_, err = pubsubpb.NewPubSubClient(conn).GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: topic})
	return err
}

// TestSim_ServesAndStopsOnSIGTERM runs `sfconnect sim` on free ports with a
// config file and the generated certificate: it prints the ready line with
// the ports bound, serves OAuth, REST (standard and configured objects) and
// Pub/Sub over TLS, and exits 0 on SIGTERM.
func TestSim_ServesAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "sim.json")
	if err := os.WriteFile(config, []byte(simConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	p := startSim(t, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--config", config, "--ca-out", caFile, "--generate", "20/s")
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("URL %s is not https", p.url)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("-ca-out: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("-ca-out wrote no certificate")
	}
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr := &http.Transport{TLSClientConfig: tlsConf}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	token := oauthLogin(t, client, p.url)
	for _, path := range []string{"/sobjects/Account/describe", "/sobjects/Invoice__c/describe"} {
		if code := restGet(t, client, p.url, token, path); code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, code)
		}
	}
	if err := getTopic(t, p.grpcAddr, credentials.NewTLS(tlsConf), p.url, token, "/event/Shipment__e"); err != nil {
		t.Fatalf("GetTopic over TLS: %v", err)
	}
	// The generator makes Account changes: some exist after a while.
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, p.url+"/sim/status", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ LatestReplayID int64 }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.LatestReplayID > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("--generate produced no events")
		}
		time.Sleep(50 * time.Millisecond)
	}
	tr.CloseIdleConnections()
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr: %s", code, p.stderr)
	}
	if p.stderr.Len() != 0 {
		t.Fatalf("normal operation wrote to stderr: %s", p.stderr)
	}
}

// TestSim_PlaintextAndOwnCertificate runs `sfconnect sim --plaintext`,
// which serves http:// and gRPC without TLS, and `sfconnect sim` with
// --tls-cert/--tls-key, which serves the given certificate.
func TestSim_PlaintextAndOwnCertificate(t *testing.T) {
	t.Parallel()
	t.Run("plaintext", func(t *testing.T) {
		t.Parallel()
		p := startSim(t, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--plaintext")
		if !strings.HasPrefix(p.url, "http://") {
			t.Fatalf("URL %s is not http", p.url)
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		token := oauthLogin(t, client, p.url)
		if code := restGet(t, client, p.url, token, "/limits"); code != http.StatusOK {
			t.Fatalf("GET /limits: %d", code)
		}
		if err := getTopic(t, p.grpcAddr, insecure.NewCredentials(), p.url, token, "/data/AccountChangeEvent"); err != nil {
			t.Fatalf("GetTopic without TLS: %v", err)
		}
		tr.CloseIdleConnections()
		if code := p.stop(t); code != exitOK {
			t.Fatalf("exit code %d, want 0; stderr: %s", code, p.stderr)
		}
	})
	t.Run("own certificate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		certPEM, keyPEM := testCertificate(t)
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		p := startSim(t, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		token := oauthLogin(t, client, p.url)
		if code := restGet(t, client, p.url, token, "/limits"); code != http.StatusOK {
			t.Fatalf("GET /limits: %d", code)
		}
		tr.CloseIdleConnections()
		if code := p.stop(t); code != exitOK {
			t.Fatalf("exit code %d, want 0; stderr: %s", code, p.stderr)
		}
	})
}

// testCertificate returns a self-signed certificate for 127.0.0.1 and its
// key, PEM-encoded.
func testCertificate(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "sim-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// TestSim_BadFlags runs `sfconnect sim` with bad flags and configuration:
// each exits 2 before listening, naming the flag and the problem.
func TestSim_BadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unknownKey := write("unknown.json", `{"objects":[],"platformEvent":{"Typo__e":[]}}`)
	badPrefix := write("prefix.json", `{"objects":[{"name":"X__c","keyPrefix":"a1"}]}`)
	badEvent := write("event.json", `{"platformEvents":{"Order":[]}}`)
	malformed := write("malformed.json", `{"objects":[`)
	missing := filepath.Join(dir, "missing.json")
	// Ports that would be used if a bad invocation went ahead anyway.
	listen := []string{"--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown flag", []string{"--bogus"}, []string{"-bogus"}},
		{"flag without value", []string{"--http"}, []string{"-http"}},
		{"tls-cert without tls-key", []string{"--tls-cert", write("c.pem", "x")}, []string{"-tls-cert and -tls-key go together"}},
		{"tls-key without tls-cert", []string{"--tls-key", write("k.pem", "x")}, []string{"-tls-cert and -tls-key go together"}},
		{"unreadable tls files", []string{"--tls-cert", missing, "--tls-key", missing}, []string{"-tls-cert/-tls-key", "no such file"}},
		{"generate without a rate", []string{"--generate", "fast"}, []string{"-generate", `"fast"`}},
		{"generate with a zero rate", []string{"--generate", "0/s"}, []string{"-generate", `"0/s"`}},
		{"generate with a negative rate", []string{"--generate", "-5/s"}, []string{"-generate"}},
		{"missing config", []string{"--config", missing}, []string{"-config", "no such file"}},
		{"config with an unknown key", []string{"--config", unknownKey}, []string{"-config", `unknown field "platformEvent"`}},
		{"malformed config", []string{"--config", malformed}, []string{"-config", malformed}},
		{"config with a bad key prefix", []string{"--config", badPrefix}, []string{"-config", "key prefix must be 3 characters"}},
		{"config with a bad event name", []string{"--config", badEvent}, []string{"-config", "must end in __e"}},
		{"missing jwt cert", []string{"--jwt-cert", missing}, []string{"-jwt-cert"}},
		{"negative token ttl", []string{"--token-ttl", "-1s"}, []string{"-token-ttl"}},
		{"malformed token ttl", []string{"--token-ttl", "soon"}, []string{"-token-ttl"}},
		{"negative retention", []string{"--retention", "-1h"}, []string{"-retention"}},
		{"negative api limit", []string{"--api-limit", "-1"}, []string{"-api-limit"}},
		{"every problem at once", []string{"--generate", "x", "--retention", "-1h", "--token-ttl", "-1m", "--tls-cert", missing},
			[]string{"-generate", "-retention", "-token-ttl", "-tls-cert and -tls-key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{"sim"}, listen...), tc.args...), &stdout, &stderr)
			if code != exitConfig {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, exitConfig, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing (no ready line)", stdout.String())
			}
		})
	}
}
