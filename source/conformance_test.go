package source_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/conformance"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
	"github.com/sfconnect/sfconnect/source"
)

// conformanceAppetite is the Pub/Sub batch the driver configures: a Read
// returns the records of one batch, so it bounds a Read's size too.
const conformanceAppetite = 10

// sourceDriver runs the connectorlib conformance suite against the
// Salesforce source over Pub/Sub, one simulated org per subtest.
type sourceDriver struct {
	mu   sync.Mutex
	sims map[*testing.T]*sfsim.Sim
}

func (d *sourceDriver) sim(t *testing.T) *sfsim.Sim {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sims[t]; s != nil {
		return s
	}
	s, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	d.sims[t] = s
	return s
}

func (d *sourceDriver) Features() conformance.SourceFeatures {
	return conformance.SourceFeatures{
		Replay: true, OrderedPerStream: true, OnInvalidPosition: conformance.InvalidPositionFail,
		MaxBatch: conformanceAppetite, Timeout: 20 * time.Second,
	}
}

func (d *sourceDriver) config(s *sfsim.Sim) source.Config {
	endpoint := "127.0.0.1:7443"
	if s != nil {
		endpoint = s.GRPCAddr()
	}
	return source.Config{
		Channels: []string{"/data/AccountChangeEvent"}, Transport: source.TransportPubSub, PubSubEndpoint: endpoint,
		Appetite: conformanceAppetite, InitialReplay: source.ReplayEarliest, OnInvalidReplay: source.ReplayFail,
		ResyncBuffer: time.Minute, TopicTemplate: "salesforce.{entity}", LoopAction: source.LoopDrop, GapRepair: true,
	}
}

func (d *sourceDriver) NewSource(t *testing.T) connectorlib.Source {
	s := d.sim(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, s.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := salesforce.AuthConfig{LoginURL: s.URL(), Flow: salesforce.FlowClientCredentials,
		ClientID: sfsim.DefaultClientID, ClientSecret: sfsim.DefaultClientSecret, CAFile: ca}
	tokens, err := salesforce.NewAuthenticator(auth)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := auth.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := source.New(context.Background(), d.config(s), source.Deps{Connector: "conformance", Tokens: tokens,
		HTTPClient: hc, APIVersion: "62.0", REST: salesforce.NewClient(tokens, hc, salesforce.ClientConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		hc.CloseIdleConnections()
	})
	src, err := conn.Factory()()
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (d *sourceDriver) Produce(t *testing.T, n int) {
	s := d.sim(t)
	if err := s.Transaction(func(tx *sfsim.Tx) error {
		for i := range n {
			if _, err := tx.Create("Account", map[string]any{"Name": fmt.Sprintf("conformance %d", i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func (d *sourceDriver) Inject(t *testing.T, f conformance.Fault) bool {
	if f == conformance.FaultDisconnectOnce {
		d.sim(t).DropStreams()
		return true
	}
	return false
}

func (d *sourceDriver) InvalidPosition(t *testing.T) connectorlib.Positions {
	d.sim(t) // the org must exist
	// A replay id far in the future: Salesforce refuses it as corrupted.
	return connectorlib.Positions{"/data/AccountChangeEvent": pubsub.EncodeReplayID(1 << 40)}
}

func (d *sourceDriver) Configs() []conformance.ConfigCase {
	valid := (&sourceDriver{}).config
	return []conformance.ConfigCase{{
		Name: "SOURCE_CHANNELS",
		Build: func(t *testing.T) error {
			cfg := valid(nil)
			cfg.Channels = nil
			return cfg.Validate()
		},
		WantErr: "SFCONNECT_SOURCE_CHANNELS",
	}}
}

// TestSource_Conformance runs the shared source conformance suite.
func TestSource_Conformance(t *testing.T) {
	conformance.RunSource(t, &sourceDriver{sims: map[*testing.T]*sfsim.Sim{}})
}
