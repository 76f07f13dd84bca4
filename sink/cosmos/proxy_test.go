package cosmos

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy sits between the SDK and the Cosmos DB stand-in and injects
// the faults Cosmos DB produces: 429 with x-ms-retry-after-ms, 503, and
// requests that time out (some of them after the server applied them, as
// when a response is lost).
type faultProxy struct {
	addr     string
	endpoint string

	mu        sync.Mutex
	rng       *rand.Rand
	p429      float64
	p503      float64
	pTimeout  float64
	retryMsLo int
	retryMsHi int

	throttleNext atomic.Int32 // next data requests to answer 429 (conformance)
	throttleMs   atomic.Int64

	// Faults injected, by kind.
	n429, n503, nTimeoutBefore, nTimeoutAfter, nForwarded atomic.Int64
}

// newFaultProxy starts a TLS proxy to srv on 127.0.0.1, with the same
// certificate (issued for 127.0.0.1), stopped when t ends.
func newFaultProxy(t testing.TB, srv *testServer) *faultProxy {
	t.Helper()
	target, _ := url.Parse(srv.endpoint)
	caPEM, err := os.ReadFile(srv.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(filepath.Join(filepath.Dir(srv.caFile), "cert.pem"), filepath.Join(filepath.Dir(srv.caFile), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{addr: ln.Addr().String(), rng: rand.New(rand.NewPCG(1, 2)), retryMsLo: 1, retryMsHi: 20}
	p.endpoint = "https://" + p.addr + "/"
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/" {
			return nil
		}
		// The database account names the server's own address as the
		// write and read location, which the SDK would then use directly:
		// point it at the proxy.
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		b = bytes.ReplaceAll(b, []byte(srv.addr), []byte(p.addr))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	// A request the client gave up on is expected here: no log.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	hs := &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = hs.Close()
		rp.Transport.(*http.Transport).CloseIdleConnections()
	})
	return p
}

// setRates sets the fault probabilities of data requests.
func (p *faultProxy) setRates(p429, p503, pTimeout float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p429, p.p503, p.pTimeout = p429, p503, pTimeout
}

// throttleOnce answers the next data request 429 asking for wait.
func (p *faultProxy) throttleOnce(wait time.Duration) {
	p.throttleMs.Store(wait.Milliseconds())
	p.throttleNext.Store(1)
}

func (p *faultProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "" {
			next.ServeHTTP(w, r) // account metadata: never faulted
			return
		}
		if p.throttleNext.Load() > 0 && p.throttleNext.Add(-1) >= 0 {
			p.n429.Add(1)
			throttle(w, p.throttleMs.Load())
			return
		}
		p.mu.Lock()
		x := p.rng.Float64()
		ms := p.retryMsLo + p.rng.IntN(p.retryMsHi-p.retryMsLo+1)
		after := p.rng.IntN(2) == 0
		p429, p503, pTimeout := p.p429, p.p503, p.pTimeout
		p.mu.Unlock()
		switch {
		case x < p429:
			p.n429.Add(1)
			throttle(w, int64(ms))
		case x < p429+p503:
			p.n503.Add(1)
			w.Header().Set("content-type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":"ServiceUnavailable","message":"injected by the test proxy"}`))
		case x < p429+p503+pTimeout:
			if after {
				// The server applies the request; its response is lost.
				p.nTimeoutAfter.Add(1)
				next.ServeHTTP(discard{h: http.Header{}}, r)
			} else {
				p.nTimeoutBefore.Add(1)
				// Read the body: only then does the server notice that
				// the client hung up, and end r's context.
				_, _ = io.Copy(io.Discard, r.Body)
			}
			<-r.Context().Done() // until the client gives up
		default:
			p.nForwarded.Add(1)
			next.ServeHTTP(w, r)
		}
	})
}

func throttle(w http.ResponseWriter, ms int64) {
	w.Header().Set("content-type", "application/json")
	w.Header().Set("x-ms-retry-after-ms", strconv.FormatInt(ms, 10))
	w.Header().Set("x-ms-substatus", "3200")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"code":"TooManyRequests","message":"Request rate is large (injected by the test proxy)"}`))
}

// discard is a ResponseWriter that drops the response.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// faults returns the total of injected faults.
func (p *faultProxy) faults() int64 {
	return p.n429.Load() + p.n503.Load() + p.nTimeoutBefore.Load() + p.nTimeoutAfter.Load()
}
