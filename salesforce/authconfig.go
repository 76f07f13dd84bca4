package salesforce

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// The authentication flows of AuthConfig.Flow.
const (
	// FlowClientCredentials is the OAuth 2.0 client credentials grant: the
	// connected app's client id and secret; the session belongs to the
	// app's "Run As" user.
	FlowClientCredentials = "client_credentials"
	// FlowJWTBearer is the OAuth 2.0 JWT bearer grant: an assertion signed
	// with the private key whose certificate is uploaded to the connected
	// app.
	FlowJWTBearer = "jwt_bearer"
	// FlowRefreshToken is the OAuth 2.0 refresh token grant.
	FlowRefreshToken = "refresh_token"
	// FlowPassword logs in with a username and password (plus security
	// token): the OAuth 2.0 password grant when a client id and secret are
	// set, the SOAP partner login otherwise.
	FlowPassword = "password"
)

// DefaultAPIVersion is the REST and SOAP API version used when none is
// configured.
const DefaultAPIVersion = "62.0"

// minAPIVersion is the oldest API version accepted: Client.Retrieve uses
// sObject Collections, added in 42.0.
const minAPIVersion = 42

// HTTP client timeouts. Salesforce ends a synchronous REST request after
// 120 s (a query that takes longer fails with QUERY_TIMEOUT), so no answer
// header is worth waiting for longer; reading a large body (a query page of
// 2,000 wide records) may take longer, hence the whole-request bound.
const (
	responseHeaderTimeout = 2 * time.Minute
	requestTimeout        = 5 * time.Minute
)

// Full environment variable names, for problems and errors.
const (
	envLoginURL       = connectorlib.EnvPrefix + "_SALESFORCE_LOGIN_URL"
	envAuthFlow       = connectorlib.EnvPrefix + "_SALESFORCE_AUTH_FLOW"
	envClientID       = connectorlib.EnvPrefix + "_SALESFORCE_CLIENT_ID"
	envClientSecret   = connectorlib.EnvPrefix + "_SALESFORCE_CLIENT_SECRET"
	envUsername       = connectorlib.EnvPrefix + "_SALESFORCE_USERNAME"
	envPassword       = connectorlib.EnvPrefix + "_SALESFORCE_PASSWORD"
	envPrivateKeyFile = connectorlib.EnvPrefix + "_SALESFORCE_PRIVATE_KEY_FILE"
	envRefreshToken   = connectorlib.EnvPrefix + "_SALESFORCE_REFRESH_TOKEN"
	envAPIVersion     = connectorlib.EnvPrefix + "_SALESFORCE_API_VERSION"
	envCAFile         = connectorlib.EnvPrefix + "_SALESFORCE_CA_FILE"
)

// AuthConfig is how sfconnect logs in to Salesforce and reaches it over
// HTTPS. connectorlib.LoadEnv fills it from SFCONNECT_SALESFORCE_*
// variables. In Go code the zero Flow and APIVersion mean their defaults.
//
// Printing an AuthConfig (String, GoString, LogValue) redacts its secrets.
type AuthConfig struct {
	LoginURL string `envconfig:"SALESFORCE_LOGIN_URL" required:"true" desc:"Login URL: https://login.salesforce.com, https://test.salesforce.com for sandboxes, the org's My Domain URL, or sfsim's URL."`
	Flow     string `envconfig:"SALESFORCE_AUTH_FLOW" default:"client_credentials" desc:"client_credentials, jwt_bearer, refresh_token or password."`
	ClientID string `envconfig:"SALESFORCE_CLIENT_ID" desc:"Connected app consumer key. Required by client_credentials, jwt_bearer and refresh_token; with password it selects the OAuth password grant over SOAP login."`
	// ClientSecret is the connected app's consumer secret.
	ClientSecret string `envconfig:"SALESFORCE_CLIENT_SECRET" secret:"true" desc:"Connected app consumer secret. Required by client_credentials; optional for refresh_token; with password, set it with the client id for the OAuth password grant."`
	Username     string `envconfig:"SALESFORCE_USERNAME" desc:"Integration user's username. Required by jwt_bearer (the JWT subject) and password."`
	// Password is the user's password followed by the security token, when
	// the org requires one.
	Password       string `envconfig:"SALESFORCE_PASSWORD" secret:"true" desc:"Password with the security token appended. Required by password: the OAuth password grant when a client id and secret are set, SOAP login at /services/Soap/u/<version> otherwise."`
	PrivateKeyFile string `envconfig:"SALESFORCE_PRIVATE_KEY_FILE" desc:"PEM file of the RSA private key (PKCS #1 or PKCS #8, unencrypted) that signs jwt_bearer assertions; its certificate is uploaded to the connected app. Required by jwt_bearer."`
	RefreshToken   string `envconfig:"SALESFORCE_REFRESH_TOKEN" secret:"true" desc:"Refresh token. Required by refresh_token."`
	APIVersion     string `envconfig:"SALESFORCE_API_VERSION" default:"62.0" desc:"Salesforce API version (42.0 or later) of REST calls and SOAP login."`
	CAFile         string `envconfig:"SALESFORCE_CA_FILE" desc:"PEM file of extra CA certificates to trust besides the system's, for example sfsim's certificate."`
	// TLSInsecureSkipVerify turns off certificate verification; for local
	// experiments only.
	TLSInsecureSkipVerify bool `envconfig:"SALESFORCE_TLS_INSECURE_SKIP_VERIFY" default:"false" desc:"Skip TLS certificate verification. Never in production; prefer SFCONNECT_SALESFORCE_CA_FILE."`
}

// withDefaults fills the zero Flow and APIVersion, and trims the login URL.
func (c AuthConfig) withDefaults() AuthConfig {
	if c.Flow == "" {
		c.Flow = FlowClientCredentials
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	c.LoginURL = strings.TrimRight(strings.TrimSpace(c.LoginURL), "/")
	return c
}

// apiVersionRE matches a Salesforce API version such as 62.0.
var apiVersionRE = regexp.MustCompile(`^[1-9][0-9]{1,2}\.0$`)

// Validate returns every problem of the configuration, joined, each
// starting with the full name of its variable (SFCONNECT_SALESFORCE_...).
// It checks which variables the flow requires, but reads no file: the
// private key and CA files are read by NewAuthenticator and HTTPClient.
func (c AuthConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	problem := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf(name+": "+format, args...))
	}
	require := func(name, value string) {
		if value == "" {
			problem(name, "required by the %s flow", c.Flow)
		}
	}
	if c.LoginURL == "" {
		problem(envLoginURL, "required")
	} else if u, err := url.Parse(c.LoginURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") ||
		u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// The URL is not echoed: a malformed one may carry credentials.
		problem(envLoginURL, "must be an http or https URL without credentials, query or fragment, such as https://login.salesforce.com")
	}
	switch c.Flow {
	case FlowClientCredentials:
		require(envClientID, c.ClientID)
		require(envClientSecret, c.ClientSecret)
	case FlowJWTBearer:
		require(envClientID, c.ClientID)
		require(envUsername, c.Username)
		require(envPrivateKeyFile, c.PrivateKeyFile)
	case FlowRefreshToken:
		require(envClientID, c.ClientID)
		require(envRefreshToken, c.RefreshToken)
	case FlowPassword:
		require(envUsername, c.Username)
		require(envPassword, c.Password)
		switch {
		case c.ClientID != "" && c.ClientSecret == "":
			problem(envClientSecret, "required with %s for the password flow's OAuth grant (unset both for SOAP login)", envClientID)
		case c.ClientID == "" && c.ClientSecret != "":
			problem(envClientID, "required with %s for the password flow's OAuth grant (unset both for SOAP login)", envClientSecret)
		}
	default:
		problem(envAuthFlow, "must be %s, %s, %s or %s, got %q",
			FlowClientCredentials, FlowJWTBearer, FlowRefreshToken, FlowPassword, c.Flow)
	}
	if !apiVersionRE.MatchString(c.APIVersion) {
		problem(envAPIVersion, "must be a version such as %s, got %q", DefaultAPIVersion, c.APIVersion)
	} else if n, _ := strconv.Atoi(strings.TrimSuffix(c.APIVersion, ".0")); n < minAPIVersion {
		problem(envAPIVersion, "must be %d.0 or later (sObject Collections), got %q", minAPIVersion, c.APIVersion)
	}
	return errors.Join(errs...)
}

// HTTPClient returns the HTTP client for every Salesforce call of this
// configuration (login, REST, CometD): TLS 1.2 or later trusting the
// system's CAs plus CAFile, proxies from the environment, a 2-minute bound
// on waiting for an answer's headers and a 5-minute bound on a whole
// request. Contexts bound calls more tightly.
func (c AuthConfig) HTTPClient() (*http.Client, error) {
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Opt-in, documented as for local experiments only.
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // explicit operator choice
	}
	if c.CAFile != "" {
		pemBytes, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: read CA file: %w", envCAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", envCAFile, c.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.ResponseHeaderTimeout = responseHeaderTimeout
	return &http.Client{Transport: tr, Timeout: requestTimeout}, nil
}

// String implements fmt.Stringer, with the secrets redacted.
func (c AuthConfig) String() string {
	return fmt.Sprintf("salesforce.AuthConfig{LoginURL:%s Flow:%s ClientID:%s ClientSecret:%s Username:%s Password:%s "+
		"PrivateKeyFile:%s RefreshToken:%s APIVersion:%s CAFile:%s TLSInsecureSkipVerify:%t}",
		c.LoginURL, c.Flow, c.ClientID, redacted(c.ClientSecret), c.Username, redacted(c.Password),
		c.PrivateKeyFile, redacted(c.RefreshToken), c.APIVersion, c.CAFile, c.TLSInsecureSkipVerify)
}

// GoString implements fmt.GoStringer (the %#v verb), with the secrets
// redacted.
func (c AuthConfig) GoString() string { return c.String() }

// LogValue implements slog.LogValuer, with the secrets redacted.
func (c AuthConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("login_url", c.LoginURL),
		slog.String("flow", c.Flow),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redacted(c.ClientSecret)),
		slog.String("username", c.Username),
		slog.String("password", redacted(c.Password)),
		slog.String("private_key_file", c.PrivateKeyFile),
		slog.String("refresh_token", redacted(c.RefreshToken)),
		slog.String("api_version", c.APIVersion),
		slog.String("ca_file", c.CAFile),
		slog.Bool("tls_insecure_skip_verify", c.TLSInsecureSkipVerify),
	)
}
