package schemaregistry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// RequestTimeout bounds one Schema Registry request.
const RequestTimeout = 10 * time.Second

// Settings are a connector's Schema Registry settings, as read from its
// variables.
type Settings struct {
	// URLs is a comma-separated list, tried in order.
	URLs     string
	Username string
	Password string
}

// URLList returns the non-empty URLs of s.URLs.
func (s Settings) URLList() []string {
	var out []string
	for u := range strings.SplitSeq(s.URLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Validate checks the settings; stem names the variables in the errors
// (stem_URL, stem_USERNAME, stem_PASSWORD), for example
// "SFCONNECT_SOURCE_SCHEMA_REGISTRY". Whether a URL is required is the
// connector's decision; Validate checks what is set. A URL carrying
// credentials is refused, and never echoed: the URL appears in request
// errors, and credentials must not.
func (s Settings) Validate(stem string) []error {
	var errs []error
	for _, raw := range s.URLList() {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s_URL: not a URL", stem))
		case u.User != nil:
			errs = append(errs, fmt.Errorf("%s_URL: must not carry credentials; set %s_USERNAME and %s_PASSWORD", stem, stem, stem))
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fmt.Errorf("%s_URL: %q is not an http(s) URL", stem, raw))
		}
	}
	if (s.Username == "") != (s.Password == "") {
		errs = append(errs, fmt.Errorf("%s_PASSWORD: set together with %s_USERNAME (basic auth), or neither", stem, stem))
	}
	return errs
}

// NewClient returns a client of the registry s names, with HTTP basic auth
// when a username is set.
func NewClient(s Settings) (*sr.Client, error) {
	urls := s.URLList()
	if len(urls) == 0 {
		return nil, errors.New("new Schema Registry client: no URL")
	}
	opts := []sr.ClientOpt{
		sr.URLs(urls...),
		sr.HTTPClient(&http.Client{Timeout: RequestTimeout}),
		sr.UserAgent("sfconnect"),
	}
	if s.Username != "" {
		opts = append(opts, sr.BasicAuth(s.Username, s.Password))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("new Schema Registry client: %w", err)
	}
	return cl, nil
}
