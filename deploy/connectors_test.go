package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source/ingest"
)

// The connectors of the binary, run for real so that their /metrics can be
// scraped (TestMonitoring_MetricsExported): one sfsim org and one
// in-process Kafka broker shared by all of them, and the Cosmos DB
// stand-in of the sink's own tests.

// stack is the peers the connector runs share.
type stack struct {
	sim   *sfsim.Sim
	kafka *kafkatest.Cluster
}

func newStack(t *testing.T) *stack {
	t.Helper()
	sim, err := sfsim.New(sfsim.Plaintext())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return &stack{sim: sim, kafka: kafkatest.NewFake(t)}
}

// runAndScrape starts `sfconnect args...` with env (plus an operations
// address of its own), runs act once /metrics answers, and returns the
// first scrape that holds every series of want. The process is stopped by
// PID when it returns.
func runAndScrape(t *testing.T, args []string, env map[string]string, want []string, act func()) map[string]map[string]bool {
	t.Helper()
	ops := freeAddr(t)
	cmd := execCommand(t, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "SFCONNECT_OPS_ADDR="+ops, "SFCONNECT_LOG_LEVEL=warn")
	c := startChild(t, cmd)
	defer c.stop()
	var got map[string]map[string]bool
	acted := act == nil
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !c.exited() {
		if text, err := scrape("http://" + ops + "/metrics"); err == nil {
			if !acted {
				act()
				acted = true
			}
			if got = parseExposition(text); hasAll(got, want) {
				return got
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("sfconnect %s exported %d metrics and not yet all of %q (exited: %v):\n%s",
		strings.Join(args, " "), len(got), want, c.exited(), c.out.String())
	return nil
}

// cosmosSinkMetrics runs `sfconnect sink cosmos` on the source's topic
// (sourceMetrics ran first) until it has written a document to the
// stand-in.
func cosmosSinkMetrics(t *testing.T, st *stack, cosmos *cosmosStandIn) map[string]map[string]bool {
	t.Helper()
	return runAndScrape(t, []string{"sink", "cosmos"}, map[string]string{
		"SFCONNECT_KAFKA_BROKERS":             strings.Join(st.kafka.Seeds(), ","),
		"SFCONNECT_CONNECTOR_NAME":            "deploy-cosmos",
		"SFCONNECT_SINK_TOPICS":               "salesforce.Account",
		"SFCONNECT_COSMOS_ENDPOINT":           cosmos.endpoint,
		"SFCONNECT_COSMOS_KEY":                emulatorKey,
		"SFCONNECT_COSMOS_CA_FILE":            cosmos.caFile,
		"SFCONNECT_COSMOS_DATABASE":           "sfconnect",
		"SFCONNECT_COSMOS_CONTAINER":          "accounts",
		"SFCONNECT_COSMOS_CREATE_IF_MISSING":  "true",
		"SFCONNECT_COSMOS_PARTITION_KEY_PATH": "/id",
	}, []string{
		"sfconnect_cosmos_documents_written_total", "sfconnect_cosmos_changes_total", "sfconnect_cosmos_request_units_total",
		"sfconnect_cosmos_responses_total", "sfconnect_cosmos_throttle_wait_seconds_total",
		"sfconnect_sink_records_total", "sfconnect_sink_offset_commits_total",
	}, nil)
}

// salesforceSinkMetrics runs `sfconnect sink salesforce` on web-app
// changes: one applied, one older than another user's Salesforce edit (a
// conflict it loses), and one malformed (dead-lettered).
func salesforceSinkMetrics(t *testing.T, st *stack) map[string]map[string]bool {
	t.Helper()
	const otherUser = "005000000000099AAA"
	var won, lost string
	for _, id := range []*string{&won, &lost} {
		err := st.sim.TransactionAs(otherUser, func(tx *sfsim.Tx) error {
			var err error
			*id, err = tx.Create("Account", map[string]any{"Name": "Edited in Salesforce"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	topic := "webapp.Account"
	st.kafka.CreateTopic(t, topic, 1, nil)
	now := time.Now()
	change := func(id string, at time.Time, key string) []byte {
		b, err := json.Marshal(map[string]any{"envelope_version": 1, "object": "Account", "operation": "UPDATE",
			"record_id": id, "fields": map[string]any{"Phone": "+1 555 0100"}, "changed_at": at.UnixMilli(), "idempotency_key": key})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	produce(t, st, topic,
		change(won, now.Add(time.Hour), "deploy-won"),
		change(lost, now.Add(-time.Hour), "deploy-lost"),
		[]byte(`{"envelope_version":1,"object":"Account"`))
	// Salesforce is unavailable once: the runtime retries the batch.
	st.sim.FailNext(sfsim.SurfaceREST, 1, sfsim.Fault{Status: http.StatusServiceUnavailable, ErrorCode: "SERVER_UNAVAILABLE", Message: "deploy check"})
	return runAndScrape(t, []string{"sink", "salesforce"}, map[string]string{
		"SFCONNECT_KAFKA_BROKERS":             strings.Join(st.kafka.Seeds(), ","),
		"SFCONNECT_CONNECTOR_NAME":            "deploy-salesforce",
		"SFCONNECT_SINK_TOPICS":               topic,
		"SFCONNECT_SALESFORCE_LOGIN_URL":      st.sim.URL(),
		"SFCONNECT_SALESFORCE_CLIENT_ID":      sfsim.DefaultClientID,
		"SFCONNECT_SALESFORCE_CLIENT_SECRET":  sfsim.DefaultClientSecret,
		"SFCONNECT_SINK_SALESFORCE_OBJECTS":   "Account",
		"SFCONNECT_SINK_SALESFORCE_FIELDS":    "Account.Phone=Phone",
		"SFCONNECT_SINK_SALESFORCE_CLIENT_ID": "sfconnect-sink",
	}, []string{
		"sfconnect_salesforce_sink_records_written_total", "sfconnect_salesforce_sink_api_calls_total",
		"sfconnect_salesforce_sink_records_per_call_bucket", "sfconnect_salesforce_sink_conflicts_total",
		"sfconnect_salesforce_sink_dead_letters_total", "sfconnect_salesforce_sink_api_budget_remaining",
		"sfconnect_salesforce_sink_api_budget_limit", "sfconnect_salesforce_sink_breaker_open",
		"sfconnect_sink_dead_letters_total", "sfconnect_sink_offset_commits_total", "sfconnect_sink_retries_total",
		"sfconnect_sink_write_seconds_bucket",
	}, nil)
}

// ingestMetrics runs `sfconnect source http` and posts signed webhooks to
// it: a new event, the same event again (a duplicate), and one with a bad
// signature (rejected).
func ingestMetrics(t *testing.T, st *stack) map[string]map[string]bool {
	t.Helper()
	const secret = "deploy-check-ingest-secret"
	addr := freeAddr(t)
	post := func(body []byte, sig string) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Sfconnect-Signature", sig)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("POST /webhook: %v", err)
		}
		resp.Body.Close()
	}
	// The operations server answers before the endpoint listens.
	listening := func() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the ingest endpoint %s does not listen: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	body := []byte(`{"id":"deploy-evt-1","changeType":"UPDATE","sObject":{"attributes":{"type":"Account"},"Id":"001000000000001AAA","Name":"Via webhook"}}`)
	return runAndScrape(t, []string{"source", "http"}, map[string]string{
		"SFCONNECT_KAFKA_BROKERS":    strings.Join(st.kafka.Seeds(), ","),
		"SFCONNECT_CONNECTOR_NAME":   "deploy-ingest",
		"SFCONNECT_DELIVERY_MODE":    "exactly_once",
		"SFCONNECT_TOPIC_PARTITIONS": "1",
		"SFCONNECT_HTTP_ADDR":        addr,
		"SFCONNECT_HTTP_ENDPOINTS":   "webhook",
		"SFCONNECT_HTTP_OBJECTS":     "Account",
		"SFCONNECT_HTTP_SECRET":      secret,
	}, []string{
		"sfconnect_ingest_requests_total", "sfconnect_ingest_rejects_total", "sfconnect_ingest_notifications_total",
		"sfconnect_ingest_request_seconds_bucket",
	}, func() {
		listening()
		sig := ingest.Sign([]byte(secret), body)
		post(body, sig)
		post(body, sig)
		post(body, "sha256=00")
	})
}

// produce writes values to topic, keyed by their index.
func produce(t *testing.T, st *stack, topic string, values ...[]byte) {
	t.Helper()
	var recs []*kgo.Record
	for i, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: v})
	}
	if err := st.kafka.Client(t).ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// emulatorKey is the Cosmos DB emulator's published well-known key; the
// stand-in checks no key at all.
const emulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// cosmosStandIn is a running test/cosmos server (@vercel/cosmosdb-server,
// installed by make node-install).
type cosmosStandIn struct {
	endpoint string
	caFile   string
}

// startCosmosStandIn starts the stand-in on 127.0.0.1 with a certificate
// made here (the sink verifies TLS against it) and stops it by PID when t
// ends. Without node_modules it skips, unless TEST_COSMOS_REQUIRED=1 (make
// test) makes that a failure.
func startCosmosStandIn(t *testing.T) *cosmosStandIn {
	t.Helper()
	dir := filepath.Join(repoRoot, "test", "cosmos")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@vercel", "cosmosdb-server")); err != nil {
		if os.Getenv("TEST_COSMOS_REQUIRED") != "1" {
			t.Skip("the Cosmos DB stand-in is not installed; run make node-install (TEST_COSMOS_REQUIRED=1 fails instead)")
		}
		t.Fatalf("the Cosmos DB stand-in is not installed in %s (make node-install)", dir)
	}
	if out, err := exec.Command("node", filepath.Join(dir, "patch.js")).CombinedOutput(); err != nil {
		t.Fatalf("patch cosmosdb-server: %v: %s", err, out)
	}
	certFile, keyFile := writeServerCert(t)
	cmd := exec.Command("node", "server.js", "0", certFile, keyFile)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe() // the server exits when its stdin closes
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
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
	select {
	case port := <-ready:
		return &cosmosStandIn{endpoint: "https://" + net.JoinHostPort("127.0.0.1", port) + "/", caFile: certFile}
	case <-time.After(30 * time.Second):
		t.Fatalf("the Cosmos DB stand-in did not start within 30s:\n%s", stderr.String())
		return nil
	}
}

// writeServerCert writes a self-signed certificate for 127.0.0.1 and its
// key; the certificate doubles as the CA file the sink trusts.
func writeServerCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
