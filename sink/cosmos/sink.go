package cosmos

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Deps are the sink's collaborators.
type Deps struct {
	// Metrics receives the sink's metrics; nil: unregistered metrics.
	Metrics *Metrics
	// Logger logs lifecycle events only; nil: discarded.
	Logger *slog.Logger
	// Credential overrides DefaultAzureCredential when no key is
	// configured (tests, or an embedding program with its own identity).
	Credential azcore.TokenCredential
}

// Sink applies change envelopes to a Cosmos DB container. It implements
// connectorlib.Sink; Write may be called concurrently for different
// partitions.
type Sink struct {
	cfg     Config
	deps    Deps
	metrics *Metrics
	pkProp  string

	client    *azcosmos.Client
	transport *http.Transport
	container *azcosmos.ContainerClient
	pks       *pkCache
	docs      *docCache
	avro      *avroDecoder // nil: no Schema Registry configured

	closeOnce sync.Once
	closed    chan struct{}

	// beforeStore, when set (tests only), runs between a group's read and
	// its write: the window in which another writer may change the
	// document.
	beforeStore func(docID string)
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("cosmos sink closed")

// New validates cfg and builds the sink; it makes no network call (Open
// does).
func New(cfg Config, deps Deps) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &connectorlib.ConfigError{Problems: flatten(err)}
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil, "")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	prop, _ := pkProperty(cfg.PartitionKey)
	var err error
	s := &Sink{cfg: cfg, deps: deps, metrics: deps.Metrics, pkProp: prop, pks: newPKCache(pkCacheSize), docs: newDocCache(cfg.DocumentCache), closed: make(chan struct{})}
	if s.avro, err = newAvroDecoder(cfg); err != nil {
		return nil, connectorlib.Permanent(err)
	}
	client, err := s.newClient()
	if err != nil {
		return nil, err
	}
	container, err := client.NewContainer(cfg.Database, cfg.Container)
	if err != nil {
		return nil, err
	}
	s.client, s.container = client, container
	return s, nil
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Open checks the container (creating it if configured). It implements
// connectorlib.Sink.
func (s *Sink) Open(ctx context.Context) error {
	if err := s.ensureContainer(ctx); err != nil {
		return err
	}
	s.deps.Logger.Info("cosmos sink open", "endpoint", s.cfg.Endpoint, "database", s.cfg.Database,
		"container", s.cfg.Container, "strategy", s.cfg.WriteStrategy, "delete_mode", s.cfg.DeleteMode)
	return nil
}

// Write applies batch, one partition's records in offset order. Records
// are grouped by document; groups are written concurrently (up to
// Concurrency), the changes of one group in order, read once and written
// once with the ETag as precondition. It returns nil when every record is
// applied (or skipped as stale), a *connectorlib.BatchError naming the
// records that failed, or ctx's error. It implements connectorlib.Sink.
func (s *Sink) Write(ctx context.Context, batch []connectorlib.Record) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	failed := connectorlib.NewBatchError()
	var order []string
	groups := map[string][]*change{}
	// A record that cannot be decoded yet (the Schema Registry is down)
	// holds back the later records of its key, which must not overtake it.
	held := map[string]error{}
	for i := range batch {
		if err, ok := held[string(batch[i].Key)]; ok {
			failed.Add(i, err)
			continue
		}
		c, err := s.decodeChange(ctx, i, &batch[i])
		if err != nil {
			if connectorlib.IsRetryable(err) {
				held[string(batch[i].Key)] = err
			} else {
				s.metrics.Changes.WithLabelValues("rejected").Inc()
			}
			failed.Add(i, err)
			continue
		}
		if _, ok := groups[c.docID]; !ok {
			order = append(order, c.docID)
		}
		groups[c.docID] = append(groups[c.docID], c)
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, s.cfg.Concurrency)
	)
	for _, id := range order {
		g := groups[id]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			// Nothing is returned while a group is still being written.
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs := s.writeGroup(ctx, g)
			if len(errs) == 0 {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i, err := range errs {
				failed.Add(i, err)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed.Len() > 0 {
		return failed
	}
	return nil
}

// Close releases the client. It is idempotent and implements
// connectorlib.Sink.
func (s *Sink) Close(context.Context) error {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.client != nil {
			s.client.Close()
		}
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
	})
	return nil
}
