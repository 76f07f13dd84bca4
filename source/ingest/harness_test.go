package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

const testSecret = "ingest-test-secret-0123456789"

// testConfig is a Config for tests: both endpoints on a free loopback
// port, secret auth for Outbound Messages, hmac for webhooks.
func testConfig(topicBase string) Config {
	return Config{
		Addr: "127.0.0.1:0", Endpoints: []string{EndpointOutbound, EndpointWebhook},
		Objects: []string{"Account", "Contact"}, OrganizationID: sfsim.DefaultOrgID,
		TopicTemplate: topicBase + ".{entity}", OutboundAuth: AuthSecret, WebhookAuth: AuthHMAC,
		Secret: testSecret, SecretHeader: "X-Sfconnect-Secret", SignatureHeader: "X-Sfconnect-Signature",
		MaxBodyBytes: 1 << 20, MaxEvents: 200, AckTimeout: 20 * time.Second, MaxPending: 20000,
		DedupTopic: topicBase + ".dedup", DedupWindow: 25 * time.Hour,
	}
}

func testRunnerConfig(name, offsets string, mode connectorlib.DeliveryMode) connectorlib.SourceConfig {
	return connectorlib.SourceConfig{
		Name: name, StreamGroup: "0", DeliveryMode: mode, OffsetsTopic: offsets,
		MaxInFlight: 20000, OffsetFlushInterval: 20 * time.Millisecond, TransactionTimeout: 10 * time.Second,
		TransactionMaxRecords: 5000, TransactionLinger: 2 * time.Millisecond,
		TopicAutoCreate: true, TopicPartitions: 3, TopicReplication: -1,
		ShutdownTimeout: 10 * time.Second, RestartBackoffMax: time.Second,
	}
}

// harness runs a Receiver, its HTTP server and a source runner.
type harness struct {
	t      testing.TB
	cfg    Config
	rc     *Receiver
	srv    *Server
	stop   context.CancelFunc
	done   chan error
	served chan error
}

// startIngest starts the ingest source against c and waits until it
// accepts requests.
func startIngest(t testing.TB, c *kafkatest.Cluster, cfg Config, name string, mode connectorlib.DeliveryMode) *harness {
	t.Helper()
	return startIngestClock(t, c, cfg, name, mode, nil)
}

// startIngestClock is startIngest with the receiver's clock.
func startIngestClock(t testing.TB, c *kafkatest.Cluster, cfg Config, name string, mode connectorlib.DeliveryMode, now func() time.Time) *harness {
	t.Helper()
	rc := New(cfg, Deps{Connector: name, Mode: mode, Kafka: c.Opts(), Now: now})
	srv, err := NewServer(cfg, rc.Handler())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, rc: rc, srv: srv, done: make(chan error, 1), served: make(chan error, 1)}
	go func() { h.served <- srv.Serve() }()
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	runner := connectorlib.NewSourceRunner(testRunnerConfig(name, cfg.DedupTopic+".offsets", mode), rc.Factory(),
		connectorlib.Deps{Kafka: c.Opts()})
	go func() { h.done <- runner.Run(ctx) }()
	t.Cleanup(h.close)
	deadline := time.Now().Add(60 * time.Second)
	for rc.current() == nil {
		if time.Now().After(deadline) {
			t.Fatal("ingest source did not open a session in 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return h
}

// close stops the runner and the server (idempotent).
func (h *harness) close() {
	if h.stop == nil {
		return
	}
	h.stop()
	h.stop = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("runner: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
	<-h.served
}

// post sends body to an endpoint with the right content type and
// credentials (secret as the token query parameter for outbound, an HMAC
// signature for webhooks) unless hdr overrides them.
func (h *harness) post(endpoint string, body []byte, hdr http.Header) (int, string) {
	h.t.Helper()
	url := h.srv.URL() + "/" + endpoint
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if endpoint == EndpointOutbound {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		q := req.URL.Query()
		q.Set("token", testSecret)
		req.URL.RawQuery = q.Encode()
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Sfconnect-Signature", Sign([]byte(testSecret), body))
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}

// outboundURL is the endpoint URL configured in Salesforce: the token is
// part of it, since Outbound Messages cannot carry headers.
func (h *harness) outboundURL() string { return h.srv.URL() + "/outbound?token=" + testSecret }

// got is one record read back.
type got struct {
	topic   string
	key     string
	env     source.Envelope
	headers map[string]string
	raw     []byte // the value; nil for a tombstone
}

// readTopics reads every committed record of topics (read_committed, to
// the end).
func readTopics(t testing.TB, c *kafkatest.Cluster, topics ...string) []got {
	t.Helper()
	var out []got
	cl := c.Client(t)
	for _, topic := range topics {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := kafkaio.ReadCommitted(ctx, kadm.NewClient(cl), c.Opts(), topic, 30*time.Second, func(r *kgo.Record) error {
			g := got{topic: r.Topic, key: string(r.Key), headers: map[string]string{}, raw: r.Value}
			for _, hd := range r.Headers {
				g.headers[hd.Key] = string(hd.Value)
			}
			if r.Value != nil && !strings.HasSuffix(topic, ".dedup") {
				if err := json.Unmarshal(r.Value, &g.env); err != nil {
					return err
				}
			}
			out = append(out, g)
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("read %s: %v", topic, err)
		}
	}
	return out
}
