package salesforce_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// Credentials the tests submit that the simulator must refuse. They must
// never show up in an error either.
const (
	wrongSecret       = "wrong-secret-8c1f"
	wrongPassword     = "wrong-password-77e2"
	testRefreshToken  = "5Aep861-test-refresh-token"
	wrongRefreshToken = "5Aep861-unknown-refresh-token"
)

// redeemRefreshToken answers the refresh grant for testRefreshToken with
// a real sfsim session. sfsim issues refresh tokens only through its
// internal API, so the recorder swaps the grant for the connected app's
// client credentials grant, after checking what the client sent.
func redeemRefreshToken(t *testing.T) func(*recorder) {
	return func(r *recorder) {
		r.intercept = func(req *http.Request, base http.RoundTripper) (*http.Response, error, bool) {
			if req.URL.Path != "/services/oauth2/token" {
				return nil, nil, false
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err, true
			}
			_ = req.Body.Close()
			form, _ := url.ParseQuery(string(body))
			if form.Get("grant_type") == "refresh_token" && form.Get("refresh_token") == testRefreshToken {
				if got := form.Get("client_id"); got != sfsim.DefaultClientID {
					t.Errorf("refresh grant client_id = %q, want %q", got, sfsim.DefaultClientID)
				}
				body = []byte(url.Values{"grant_type": {"client_credentials"},
					"client_id": {sfsim.DefaultClientID}, "client_secret": {sfsim.DefaultClientSecret}}.Encode())
			}
			r2 := req.Clone(req.Context())
			r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			resp, err := base.RoundTrip(r2)
			return resp, err, true
		}
	}
}

func TestAuthenticator_Session_Flows(t *testing.T) {
	t.Parallel()
	keyP8, keyP1, cert := jwtKeyPair(t)
	otherKey, _, _ := jwtKeyPair(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "https://" + closed.Addr().String()
	_ = closed.Close()

	tests := []struct {
		name string
		cfg  func(t *testing.T, c *salesforce.AuthConfig)
		rec  func(t *testing.T) func(*recorder)
		// wantCode is the connectorlib code of a refused login; "" means
		// the login succeeds, unless wantRetryable is set.
		wantCode      string
		wantRetryable bool
	}{
		{name: "client_credentials", cfg: func(*testing.T, *salesforce.AuthConfig) {}},
		{name: "client_credentials wrong secret", wantCode: "invalid_client",
			cfg: func(_ *testing.T, c *salesforce.AuthConfig) { c.ClientSecret = wrongSecret }},
		{name: "client_credentials unknown client", wantCode: "invalid_client_id",
			cfg: func(_ *testing.T, c *salesforce.AuthConfig) { c.ClientID = "nobody" }},
		{name: "password OAuth grant", cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password = salesforce.FlowPassword, sfsim.DefaultUsername, sfsim.DefaultPassword
		}},
		{name: "password OAuth grant wrong password", wantCode: "invalid_grant", cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password = salesforce.FlowPassword, sfsim.DefaultUsername, wrongPassword
		}},
		{name: "password SOAP login", cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password = salesforce.FlowPassword, sfsim.DefaultUsername, sfsim.DefaultPassword
			c.ClientID, c.ClientSecret = "", ""
		}},
		{name: "password SOAP login wrong password", wantCode: "INVALID_LOGIN", cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password = salesforce.FlowPassword, sfsim.DefaultUsername, wrongPassword
			c.ClientID, c.ClientSecret = "", ""
		}},
		{name: "jwt_bearer PKCS #8 key", cfg: func(t *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.ClientSecret = salesforce.FlowJWTBearer, sfsim.DefaultUsername, ""
			c.PrivateKeyFile = writeFile(t, "key.pem", keyP8)
		}},
		{name: "jwt_bearer PKCS #1 key", cfg: func(t *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.ClientSecret = salesforce.FlowJWTBearer, sfsim.DefaultUsername, ""
			c.PrivateKeyFile = writeFile(t, "key.pem", append(append([]byte(nil), cert...), keyP1...))
		}},
		{name: "jwt_bearer key not matching the certificate", wantCode: "invalid_grant", cfg: func(t *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.ClientSecret = salesforce.FlowJWTBearer, sfsim.DefaultUsername, ""
			c.PrivateKeyFile = writeFile(t, "key.pem", otherKey)
		}},
		{name: "jwt_bearer unknown user", wantCode: "invalid_grant", cfg: func(t *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.ClientSecret = salesforce.FlowJWTBearer, "someone@else.example", ""
			c.PrivateKeyFile = writeFile(t, "key.pem", keyP8)
		}},
		{name: "refresh_token", rec: redeemRefreshToken, cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.RefreshToken, c.ClientSecret = salesforce.FlowRefreshToken, testRefreshToken, ""
		}},
		{name: "refresh_token unknown token", rec: redeemRefreshToken, wantCode: "invalid_grant", cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.Flow, c.RefreshToken = salesforce.FlowRefreshToken, wrongRefreshToken
		}},
		{name: "login URL unreachable", wantRetryable: true, cfg: func(_ *testing.T, c *salesforce.AuthConfig) {
			c.LoginURL = unreachable
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := envOpts{sim: []sfsim.Opt{sfsim.JWTCertificate(cert)}}
			o.auth = func(c *salesforce.AuthConfig) { tt.cfg(t, c) }
			if tt.rec != nil {
				o.rec = tt.rec(t)
			}
			e := newEnv(t, o)
			ctx := testContext(t)
			s, err := e.auth.Session(ctx)

			if tt.wantCode != "" || tt.wantRetryable {
				if err == nil {
					t.Fatalf("Session succeeded, want an error")
				}
				text := err.Error()
				if !strings.Contains(text, e.cfg.Flow) {
					t.Errorf("error %q does not name the flow %s", text, e.cfg.Flow)
				}
				assertNoSecrets(t, "error", text, e.cfg.ClientSecret, e.cfg.Password, e.cfg.RefreshToken,
					sfsim.DefaultClientSecret, sfsim.DefaultPassword, testRefreshToken, pemBody(keyP8), pemBody(otherKey))
				if got := connectorlib.IsRetryable(err); got != tt.wantRetryable {
					t.Errorf("IsRetryable(%q) = %v, want %v", text, got, tt.wantRetryable)
				}
				if tt.wantCode != "" {
					var ae *salesforce.AuthError
					if !errors.As(err, &ae) {
						t.Fatalf("error %q is not an *AuthError", text)
					}
					if ae.Code != tt.wantCode || connectorlib.Code(err) != tt.wantCode {
						t.Errorf("code = %q (connectorlib %q), want %q", ae.Code, connectorlib.Code(err), tt.wantCode)
					}
				}
				// The client returns the login's error, classified the same.
				_, derr := e.client.Describe(ctx, "Account")
				if derr == nil || connectorlib.IsRetryable(derr) != tt.wantRetryable {
					t.Errorf("Describe error = %v, want one with IsRetryable %v", derr, tt.wantRetryable)
				}
				return
			}

			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if s.AccessToken == "" || s.InstanceURL != e.sim.URL() || s.OrgID != e.sim.OrgID() ||
				s.UserID != e.sim.UserID() || s.IssuedAt.IsZero() {
				t.Errorf("session = %v, want a token for org %s, user %s at %s", s, e.sim.OrgID(), e.sim.UserID(), e.sim.URL())
			}
			if _, err := e.client.Describe(ctx, "Account"); err != nil {
				t.Errorf("Describe with the session: %v", err)
			}
			again, err := e.auth.Session(ctx)
			if err != nil || again.AccessToken != s.AccessToken {
				t.Errorf("second Session = %v, %v; want the cached session", again, err)
			}
			if got := e.rec.count("", "/services/oauth2/token") + e.rec.count("", "/services/Soap/"); got != 1 {
				t.Errorf("%d login requests, want 1", got)
			}
		})
	}
}

// pemBody returns a line from the middle of a PEM block: key material.
func pemBody(p []byte) string {
	lines := strings.Split(string(p), "\n")
	return lines[len(lines)/2]
}

func TestAuthenticator_Session_ConcurrentCallersLogInOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := testContext(t)
	const callers = 16
	sessions := make([]salesforce.Session, callers)
	run := func() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			wg.Go(func() {
				<-start
				s, err := e.auth.Session(ctx)
				if err != nil {
					t.Errorf("Session: %v", err)
				}
				sessions[i] = s
			})
		}
		close(start)
		wg.Wait()
	}
	run()
	if got := e.rec.tokenRequests(); got != 1 {
		t.Errorf("%d token requests for %d concurrent first callers, want 1", got, callers)
	}
	first := sessions[0].AccessToken
	for range callers {
		e.auth.Invalidate(first) // every holder of the dead token reports it
	}
	e.auth.Invalidate("some older token") // a stale report changes nothing
	run()
	if got := e.rec.tokenRequests(); got != 2 {
		t.Errorf("%d token requests after invalidation, want 2", got)
	}
	for _, s := range sessions {
		if s.AccessToken == first || s.AccessToken != sessions[0].AccessToken {
			t.Fatalf("callers got different or stale sessions after invalidation")
		}
	}
}

func TestAuthConfig_Validate(t *testing.T) {
	t.Parallel()
	valid := salesforce.AuthConfig{LoginURL: "https://login.salesforce.com", ClientID: "id", ClientSecret: "client-secret-3d5c"}
	tests := []struct {
		name     string
		cfg      func(c *salesforce.AuthConfig)
		wantVars []string // variables named by the problems, sorted; nil: valid
	}{
		{name: "client_credentials by default", cfg: func(*salesforce.AuthConfig) {}},
		{name: "jwt_bearer", cfg: func(c *salesforce.AuthConfig) {
			c.Flow, c.ClientSecret, c.Username, c.PrivateKeyFile = salesforce.FlowJWTBearer, "", "u@example.com", "/key.pem"
		}},
		{name: "refresh_token without secret", cfg: func(c *salesforce.AuthConfig) {
			c.Flow, c.ClientSecret, c.RefreshToken = salesforce.FlowRefreshToken, "", "rt"
		}},
		{name: "password OAuth", cfg: func(c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password = salesforce.FlowPassword, "u", "pw-9f3e"
		}},
		{name: "password SOAP", cfg: func(c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password, c.ClientID, c.ClientSecret = salesforce.FlowPassword, "u", "pw-9f3e", "", ""
		}},
		{name: "plain http for sfsim", cfg: func(c *salesforce.AuthConfig) { c.LoginURL = "http://127.0.0.1:8080/" }},

		{name: "empty", cfg: func(c *salesforce.AuthConfig) { *c = salesforce.AuthConfig{} },
			wantVars: []string{"SFCONNECT_SALESFORCE_CLIENT_ID", "SFCONNECT_SALESFORCE_CLIENT_SECRET", "SFCONNECT_SALESFORCE_LOGIN_URL"}},
		{name: "login URL without scheme", cfg: func(c *salesforce.AuthConfig) { c.LoginURL = "login.salesforce.com" },
			wantVars: []string{"SFCONNECT_SALESFORCE_LOGIN_URL"}},
		{name: "login URL with credentials", cfg: func(c *salesforce.AuthConfig) { c.LoginURL = "https://u:hunter2@login.salesforce.com" },
			wantVars: []string{"SFCONNECT_SALESFORCE_LOGIN_URL"}},
		{name: "login URL with query", cfg: func(c *salesforce.AuthConfig) { c.LoginURL = "https://login.salesforce.com?x=1" },
			wantVars: []string{"SFCONNECT_SALESFORCE_LOGIN_URL"}},
		{name: "unknown flow", cfg: func(c *salesforce.AuthConfig) { c.Flow = "saml" },
			wantVars: []string{"SFCONNECT_SALESFORCE_AUTH_FLOW"}},
		{name: "client_credentials without secret", cfg: func(c *salesforce.AuthConfig) { c.ClientSecret = "" },
			wantVars: []string{"SFCONNECT_SALESFORCE_CLIENT_SECRET"}},
		{name: "jwt_bearer missing everything", cfg: func(c *salesforce.AuthConfig) { c.Flow, c.ClientID = salesforce.FlowJWTBearer, "" },
			wantVars: []string{"SFCONNECT_SALESFORCE_CLIENT_ID", "SFCONNECT_SALESFORCE_PRIVATE_KEY_FILE", "SFCONNECT_SALESFORCE_USERNAME"}},
		{name: "refresh_token missing", cfg: func(c *salesforce.AuthConfig) { c.Flow, c.ClientID = salesforce.FlowRefreshToken, "" },
			wantVars: []string{"SFCONNECT_SALESFORCE_CLIENT_ID", "SFCONNECT_SALESFORCE_REFRESH_TOKEN"}},
		{name: "password missing", cfg: func(c *salesforce.AuthConfig) { c.Flow = salesforce.FlowPassword },
			wantVars: []string{"SFCONNECT_SALESFORCE_PASSWORD", "SFCONNECT_SALESFORCE_USERNAME"}},
		{name: "password with client id only", cfg: func(c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password, c.ClientSecret = salesforce.FlowPassword, "u", "pw-9f3e", ""
		}, wantVars: []string{"SFCONNECT_SALESFORCE_CLIENT_SECRET"}},
		{name: "password with client secret only", cfg: func(c *salesforce.AuthConfig) {
			c.Flow, c.Username, c.Password, c.ClientID = salesforce.FlowPassword, "u", "pw-9f3e", ""
		}, wantVars: []string{"SFCONNECT_SALESFORCE_CLIENT_ID"}},
		{name: "API version malformed", cfg: func(c *salesforce.AuthConfig) { c.APIVersion = "v62" },
			wantVars: []string{"SFCONNECT_SALESFORCE_API_VERSION"}},
		{name: "API version too old", cfg: func(c *salesforce.AuthConfig) { c.APIVersion = "41.0" },
			wantVars: []string{"SFCONNECT_SALESFORCE_API_VERSION"}},
		{name: "every problem at once", cfg: func(c *salesforce.AuthConfig) {
			*c = salesforce.AuthConfig{Flow: salesforce.FlowPassword, ClientSecret: "secret-a7b1", APIVersion: "x"}
		}, wantVars: []string{"SFCONNECT_SALESFORCE_API_VERSION", "SFCONNECT_SALESFORCE_CLIENT_ID",
			"SFCONNECT_SALESFORCE_LOGIN_URL", "SFCONNECT_SALESFORCE_PASSWORD", "SFCONNECT_SALESFORCE_USERNAME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.cfg(&cfg)
			err := cfg.Validate()
			var got []string
			if err != nil {
				for _, p := range err.(interface{ Unwrap() []error }).Unwrap() {
					name, _, _ := strings.Cut(p.Error(), ":")
					if !strings.HasPrefix(name, "SFCONNECT_SALESFORCE_") {
						t.Errorf("problem %q does not start with the variable name", p)
					}
					got = append(got, name)
				}
				assertNoSecrets(t, "Validate", err.Error(), "hunter2", cfg.ClientSecret, cfg.Password)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.wantVars) {
				t.Errorf("Validate named %v, want %v; error: %v", got, tt.wantVars, err)
			}
		})
	}
}

// TestAuthConfig_LoadEnv checks the envconfig tags with the loader that
// reads them. It sets environment variables, so it does not run in
// parallel.
func TestAuthConfig_LoadEnv(t *testing.T) {
	// LoadEnv refuses SFCONNECT_ variables no spec reads: hide any the
	// environment running the tests has (t.Setenv restores them).
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SFCONNECT_") {
			t.Setenv(k, v)
			_ = os.Unsetenv(k)
		}
	}
	t.Setenv("SFCONNECT_SALESFORCE_LOGIN_URL", "https://test.salesforce.com")
	t.Setenv("SFCONNECT_SALESFORCE_CLIENT_ID", "id")
	t.Setenv("SFCONNECT_SALESFORCE_CLIENT_SECRET", "s3cret-from-env")
	var cfg salesforce.AuthConfig
	if err := connectorlib.LoadEnv([]any{&cfg}); err != nil {
		t.Fatalf("LoadEnv: %v", err)
	}
	if cfg.Flow != salesforce.FlowClientCredentials || cfg.APIVersion != salesforce.DefaultAPIVersion ||
		cfg.ClientSecret != "s3cret-from-env" || cfg.TLSInsecureSkipVerify {
		t.Errorf("loaded %+v, want the defaults and the secret", cfg)
	}
	secret := map[string]bool{}
	for _, v := range connectorlib.EnvVars(&cfg) {
		if v.Desc == "" {
			t.Errorf("%s has no desc tag", v.Name)
		}
		secret[v.Name] = v.Secret
	}
	for _, name := range []string{"SFCONNECT_SALESFORCE_CLIENT_SECRET", "SFCONNECT_SALESFORCE_PASSWORD", "SFCONNECT_SALESFORCE_REFRESH_TOKEN"} {
		if !secret[name] {
			t.Errorf("%s is not tagged secret", name)
		}
	}

	t.Setenv("SFCONNECT_SALESFORCE_AUTH_FLOW", "jwt_bearer")
	err := connectorlib.LoadEnv([]any{&salesforce.AuthConfig{}})
	var ce *connectorlib.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "SFCONNECT_SALESFORCE_PRIVATE_KEY_FILE") {
		t.Errorf("LoadEnv with jwt_bearer and no key = %v, want a ConfigError naming the key file", err)
	}
	assertNoSecrets(t, "LoadEnv error", fmt.Sprint(err), "s3cret-from-env")
}

func TestNewAuthenticator_BadPrivateKey(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	const material = "S2V5TWF0ZXJpYWxOb3RUb0JlRWNob2Vk"
	tests := []struct {
		name    string
		content []byte // nil: no file
		want    string
	}{
		{name: "missing file", want: "no such file"},
		{name: "not PEM", content: []byte(material), want: "no RSA PRIVATE KEY"},
		{name: "garbage key", content: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte(material)}), want: "not a valid PKCS #1 key"},
		{name: "EC key", content: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), want: "not an RSA key"},
		{name: "encrypted key", content: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte(material)}), want: "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := t.TempDir() + "/absent.pem"
			if tt.content != nil {
				path = writeFile(t, "key.pem", tt.content)
			}
			_, err := salesforce.NewAuthenticator(salesforce.AuthConfig{LoginURL: "https://login.salesforce.com",
				Flow: salesforce.FlowJWTBearer, ClientID: "id", Username: "u", PrivateKeyFile: path})
			if err == nil {
				t.Fatal("NewAuthenticator succeeded")
			}
			if !strings.Contains(err.Error(), "SFCONNECT_SALESFORCE_PRIVATE_KEY_FILE") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name the variable and say %q", err, tt.want)
			}
			assertNoSecrets(t, "error", err.Error(), material)
			if connectorlib.IsRetryable(err) {
				t.Errorf("error %q is retryable, want permanent", err)
			}
		})
	}
}

func TestAuthConfig_HTTPClient(t *testing.T) {
	t.Parallel()
	sim := startSim(t)
	ctx := testContext(t)
	base := clientCredentials(t, sim)

	t.Run("missing CA file", func(t *testing.T) {
		cfg := base
		cfg.CAFile = t.TempDir() + "/none.pem"
		if _, err := cfg.HTTPClient(); err == nil || !strings.Contains(err.Error(), "SFCONNECT_SALESFORCE_CA_FILE") {
			t.Errorf("HTTPClient = %v, want an error naming SFCONNECT_SALESFORCE_CA_FILE", err)
		}
	})
	t.Run("CA file without a certificate", func(t *testing.T) {
		cfg := base
		cfg.CAFile = writeFile(t, "ca.pem", []byte("not a certificate"))
		if _, err := cfg.HTTPClient(); err == nil || !strings.Contains(err.Error(), "SFCONNECT_SALESFORCE_CA_FILE") {
			t.Errorf("HTTPClient = %v, want an error naming SFCONNECT_SALESFORCE_CA_FILE", err)
		}
	})
	t.Run("sfsim certificate not trusted", func(t *testing.T) {
		cfg := base
		cfg.CAFile = ""
		a, err := salesforce.NewAuthenticator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Session(ctx)
		if err == nil || !connectorlib.IsRetryable(err) {
			t.Fatalf("Session = %v, want a retryable TLS error", err)
		}
		assertNoSecrets(t, "error", err.Error(), cfg.ClientSecret)
	})
	t.Run("verification skipped", func(t *testing.T) {
		cfg := base
		cfg.CAFile, cfg.TLSInsecureSkipVerify = "", true
		hc, err := cfg.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		defer trackConns(hc)()
		a, err := salesforce.NewAuthenticator(cfg, salesforce.AuthHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Session(ctx); err != nil {
			t.Errorf("Session: %v", err)
		}
	})
}

func TestSession_String_RedactsSecrets(t *testing.T) {
	t.Parallel()
	const token = "00D8a00000SIMRG!ARsecretaccesstoken"
	s := salesforce.Session{AccessToken: token, InstanceURL: "https://x.my.salesforce.com", OrgID: "00D", UserID: "005"}
	cfg := salesforce.AuthConfig{LoginURL: "https://login.salesforce.com", ClientID: "id",
		ClientSecret: "client-secret-value", Password: "password-value", RefreshToken: "refresh-token-value"}
	secrets := []string{token, cfg.ClientSecret, cfg.Password, cfg.RefreshToken}
	a, err := salesforce.NewAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := salesforce.NewClient(a, nil, salesforce.ClientConfig{})

	var out strings.Builder
	for _, v := range []any{s, &s, cfg, &cfg, a, c} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out.WriteString(fmt.Sprintf(verb, v) + "\n")
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("login", "session", s, "config", cfg)
	out.WriteString(logged.String())

	assertNoSecrets(t, "printed values", out.String(), secrets...)
	if !strings.Contains(out.String(), "[REDACTED]") || !strings.Contains(out.String(), s.OrgID) {
		t.Errorf("printed values lack the redaction marker or the org id:\n%s", out.String())
	}
}
