package kafkaio_test

import (
	"bytes"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

func TestConfig_Opts_SASL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mechanism  string // configured on the broker and the client
		clientPass string
		wantOK     bool
	}{
		{name: "plain", mechanism: "PLAIN", clientPass: testPassword, wantOK: true},
		{name: "scram-sha-256", mechanism: "SCRAM-SHA-256", clientPass: testPassword, wantOK: true},
		{name: "scram-sha-512", mechanism: "SCRAM-SHA-512", clientPass: testPassword, wantOK: true},
		{name: "plain wrong password", mechanism: "PLAIN", clientPass: testPassword + "-wrong"},
		{name: "scram-sha-512 wrong password", mechanism: "SCRAM-SHA-512", clientPass: testPassword + "-wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(tt.mechanism, "alice", testPassword))
			cl := newClient(t, kafkaio.Config{
				Brokers:       c.ListenAddrs(),
				SASLMechanism: tt.mechanism,
				SASLUsername:  "alice",
				SASLPassword:  tt.clientPass,
			})
			// kfake closes the connection on bad credentials, so a failure
			// shows up as a dead broker; Ping tries each broker once.
			err := cl.Ping(ctxTimeout(t, 5*time.Second))
			if tt.wantOK && err != nil {
				t.Fatalf("Ping() = %v, want success", err)
			}
			if !tt.wantOK {
				if err == nil {
					t.Fatal("Ping() = nil with a wrong password")
				}
				assertNoSecret(t, err.Error())
				t.Logf("Ping() = %v", err)
			}
		})
	}
}

// oauthCluster answers SASL OAUTHBEARER, which kfake does not implement,
// with control functions, and records the bearer tokens it receives. SASL
// is not enabled in kfake itself, so the control functions are the only
// authentication.
type oauthCluster struct {
	*kfake.Cluster
	mu     sync.Mutex
	tokens []string
}

func newOAuthCluster(t *testing.T) *oauthCluster {
	t.Helper()
	oc := &oauthCluster{Cluster: newCluster(t)}
	oc.ControlKey(int16(kmsg.SASLHandshake), func(r kmsg.Request) (kmsg.Response, error, bool) {
		oc.KeepControl()
		req := r.(*kmsg.SASLHandshakeRequest)
		resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"OAUTHBEARER"}
		if req.Mechanism != "OAUTHBEARER" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	oc.ControlKey(int16(kmsg.SASLAuthenticate), func(r kmsg.Request) (kmsg.Response, error, bool) {
		oc.KeepControl()
		req := r.(*kmsg.SASLAuthenticateRequest)
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		// RFC 7628: "n,,\x01auth=Bearer TOKEN\x01\x01".
		_, rest, ok := bytes.Cut(req.SASLAuthBytes, []byte("auth=Bearer "))
		tok, _, ok2 := bytes.Cut(rest, []byte{1})
		if !ok || !ok2 {
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			return resp, nil, true
		}
		oc.mu.Lock()
		oc.tokens = append(oc.tokens, string(tok))
		oc.mu.Unlock()
		return resp, nil, true
	})
	return oc
}

// takeTokens returns and forgets the tokens seen so far.
func (oc *oauthCluster) takeTokens() []string {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	out := oc.tokens
	oc.tokens = nil
	return out
}

func TestConfig_Opts_OAuthBearer(t *testing.T) {
	t.Parallel()

	t.Run("token", func(t *testing.T) {
		t.Parallel()
		oc := newOAuthCluster(t)
		cl := newClient(t, kafkaio.Config{Brokers: oc.ListenAddrs(), SASLMechanism: "OAUTHBEARER", SASLOAuthToken: testToken})
		if err := cl.Ping(ctxTimeout(t, 5*time.Second)); err != nil {
			t.Fatalf("Ping() = %v", err)
		}
		if got := oc.takeTokens(); len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != testToken }) {
			t.Errorf("tokens seen by the broker = %q, want only the configured token", got)
		}
	})

	t.Run("token file is re-read on every authentication", func(t *testing.T) {
		t.Parallel()
		oc := newOAuthCluster(t)
		tokenFile := writeFile(t, t.TempDir(), "token", "first-token\n")
		opts, err := kafkaio.Config{Brokers: oc.ListenAddrs(), SASLMechanism: "OAUTHBEARER", SASLOAuthTokenFile: tokenFile}.Opts()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"first-token", "rotated-token"} {
			if err := os.WriteFile(tokenFile, []byte(want+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// A new client opens new connections, each authenticating
			// with the same options (and so the same mechanism).
			cl := newClientFromOpts(t, opts)
			if err := cl.Ping(ctxTimeout(t, 5*time.Second)); err != nil {
				t.Fatalf("Ping() = %v", err)
			}
			cl.Close()
			if got := oc.takeTokens(); len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != want }) {
				t.Errorf("tokens seen by the broker = %q, want only %q", got, want)
			}
		}
	})
}
