package cosmos

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// TestSink_Open_VerifiesTLS checks that TLS verification is on by default:
// without the test CA the stand-in's certificate is refused, with
// COSMOS_CA_FILE it is trusted, and the explicit insecure switch skips
// verification.
func TestSink_Open_VerifiesTLS(t *testing.T) {
	srv := cosmosServer(t)
	cfg := srv.testConfig(containerName(t))
	cfg.CAFile = ""
	s, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.Open(ctx)
	if err == nil || !strings.Contains(err.Error(), "certificate") || connectorlib.IsRetryable(err) {
		t.Fatalf("Open without the CA: %v; want a permanent certificate verification error", err)
	}
	cfg.InsecureSkipVerify = true
	openSinkCfg(t, cfg)
}

// fakeCredential is an Entra ID credential that hands out a fixed token.
type fakeCredential struct{ calls atomic.Int32 }

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.calls.Add(1)
	return azcore.AccessToken{Token: "entra-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestSink_EntraID writes with a token credential instead of a key (the
// stand-in accepts any authorization; the credential must be asked).
func TestSink_EntraID(t *testing.T) {
	srv := cosmosServer(t)
	cfg := srv.testConfig(containerName(t))
	cfg.Key = ""
	cred := &fakeCredential{}
	s, err := New(cfg, Deps{Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.Open(t.Context()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustWrite(t, s, batch("t", 0, ev{ct: "CREATE", id: "e1", ts: 1, cn: 1, fields: map[string]any{"Name": "entra"}}))
	if d := getDoc(t, s, "e1"); d == nil || d["Name"] != "entra" {
		t.Fatalf("document = %v", d)
	}
	if cred.calls.Load() == 0 {
		t.Error("the token credential was never asked for a token")
	}
}
