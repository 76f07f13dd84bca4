package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	sfapi "github.com/sfconnect/sfconnect/salesforce"
)

// Deps are what the sink is built from besides its Config.
type Deps struct {
	// Connector is the connector name, for metrics and conflict records.
	Connector string
	// REST calls Salesforce; it must be built with
	// ClientConfig.CallClientID = Config.ClientID, which New checks.
	REST *sfapi.Client
	// Tokens is REST's token provider; Open reads the sink's own user id
	// from its session.
	Tokens sfapi.TokenProvider
	// Decoder decodes record values; nil means JSONDecoder.
	Decoder Decoder
	// Conflicts stores losing changes. Required.
	Conflicts ConflictWriter
	// Publisher publishes platform events (platform_event mode only).
	Publisher EventPublisher
	// Metrics; nil means unregistered metrics.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sink writes web-app changes into Salesforce (connectorlib.Sink). See the
// package documentation for the pipeline.
type Sink struct {
	cfg     Config
	deps    Deps
	m       *mapping
	rest    *sfapi.Client
	decoder Decoder
	metrics *Metrics
	breaker *breaker
	gov     *governor
	now     func() time.Time

	mu     sync.Mutex
	self   string // the sink's Salesforce user id
	opened bool
}

// New builds a sink; it makes no network call.
func New(cfg Config, deps Deps) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := cfg.mapping()
	if err != nil {
		return nil, err
	}
	switch {
	case deps.REST == nil || deps.Tokens == nil:
		return nil, errors.New("new Salesforce sink: REST client and token provider are required")
	case deps.REST.CallClientID() != cfg.ClientID:
		return nil, fmt.Errorf("new Salesforce sink: the REST client stamps client=%q, the configuration says %q", deps.REST.CallClientID(), cfg.ClientID)
	case deps.Conflicts == nil:
		return nil, errors.New("new Salesforce sink: a conflict writer is required")
	case cfg.Mode == ModePlatformEvent && deps.Publisher == nil:
		return nil, errors.New("new Salesforce sink: platform_event mode needs a publisher")
	}
	if deps.Decoder == nil {
		deps.Decoder = JSONDecoder{}
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil, deps.Connector)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Sink{
		cfg: cfg, deps: deps, m: m, rest: deps.REST, decoder: deps.Decoder, metrics: deps.Metrics, now: deps.Now,
		breaker: newBreaker(cfg.BreakerFailures, cfg.BreakerCooldown, deps.Now),
		gov:     newGovernor(cfg.APIReservePercent, cfg.APIReserveInterval, deps.Now),
	}, nil
}

// Open implements connectorlib.Sink: it logs in, to learn the user the
// sink writes as (conflict resolution tells the sink's own writes from
// other edits by LastModifiedById).
func (s *Sink) Open(ctx context.Context) error {
	sess, err := s.deps.Tokens.Session(ctx)
	if err != nil {
		return fmt.Errorf("open Salesforce sink: %w", err)
	}
	if sess.UserID == "" {
		return connectorlib.Permanent(errors.New("open Salesforce sink: the session names no user id"))
	}
	s.mu.Lock()
	s.self, s.opened = sess.UserID, true
	s.mu.Unlock()
	return nil
}

// Close implements connectorlib.Sink; the sink holds nothing the caller
// does not own, so Close only marks it closed. It is idempotent.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	s.opened = false
	s.mu.Unlock()
	return nil
}

func (s *Sink) user() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.self
}

// batchState is one Write's bookkeeping.
type batchState struct {
	batch     []connectorlib.Record
	be        *connectorlib.BatchError
	conflicts []Conflict
	conflictI []int    // batch index of each conflict
	blocked   []string // record keys whose earlier change failed retryably
}

// fail records that batch index i failed.
func (s *Sink) fail(b *batchState, i int, err error) {
	if _, dup := b.be.Failed[i]; dup {
		return
	}
	b.be.Add(i, err)
	if !connectorlib.IsRetryable(err) {
		code := connectorlib.Code(err)
		if code == "" {
			code = "UNKNOWN"
		}
		s.metrics.dlq.WithLabelValues(s.metrics.connector, code).Inc()
	}
}

// Write implements connectorlib.Sink: decode and map every record, then
// per round (see rounds): look the records up, resolve conflicts, store the
// losers in the conflicts topic, coalesce the winners and write them.
// Records that fail get their error in the *BatchError (permanent ones
// reach the dead-letter topic with Salesforce's statusCode and message);
// every other record is applied, or lost a conflict that is durably
// recorded, when Write returns.
func (s *Sink) Write(ctx context.Context, batch []connectorlib.Record) error {
	if s.user() == "" {
		return errors.New("write to Salesforce: the sink is not open")
	}
	b := &batchState{batch: batch, be: connectorlib.NewBatchError()}
	var changes []*change
	for i, rec := range batch {
		if len(rec.Value) == 0 {
			s.fail(b, i, connectorlib.PermanentCode(CodeDecode, errors.New("empty value: a change envelope is required (deletes are DELETE envelopes, not tombstones)")))
			continue
		}
		src, err := s.decoder.Decode(rec.Value)
		if err != nil {
			s.fail(b, i, err)
			continue
		}
		c, err := s.m.apply(i, src, rec.Key)
		if err != nil {
			s.fail(b, i, err)
			continue
		}
		changes = append(changes, c)
	}
	if s.cfg.Mode == ModePlatformEvent {
		s.publish(ctx, b, changes)
	} else {
		for _, round := range rounds(changes) {
			if ctx.Err() != nil {
				for _, seg := range round {
					s.failSegment(b, seg, connectorlib.Retryable(ctx.Err()))
				}
				continue
			}
			s.writeRound(ctx, b, round)
		}
	}
	if err := s.flushConflicts(ctx, b); err != nil {
		return err
	}
	if b.be.Len() == 0 {
		return nil
	}
	if b.be.Len() == len(batch) {
		// Nothing was applied: one whole-batch error says so more simply,
		// when every record failed the same retryable way.
		if err, same := sameRetryable(b.be); same {
			return err
		}
	}
	return b.be
}

// sameRetryable returns the shared error when every failure is retryable
// and carries the same text.
func sameRetryable(be *connectorlib.BatchError) (error, bool) {
	var first error
	for _, err := range be.Failed {
		if !connectorlib.IsRetryable(err) || (first != nil && err.Error() != first.Error()) {
			return nil, false
		}
		if first == nil {
			first = err
		}
	}
	return first, first != nil
}

// failSegment fails every change of seg and, when the error is retryable,
// blocks the record's later segments.
func (s *Sink) failSegment(b *batchState, seg *segment, err error) {
	for _, c := range seg.changes {
		s.fail(b, c.idx, err)
	}
	if connectorlib.IsRetryable(err) {
		b.blocked = append(b.blocked, seg.key)
	}
}

// needsLookup reports whether seg's record must be read before writing:
// for conflict resolution, or for its Id.
func (s *Sink) needsLookup(seg *segment) bool {
	first := seg.changes[0]
	if s.cfg.policy(first.object) != PolicyWebAppWins {
		return true
	}
	for _, c := range seg.changes {
		if c.id == "" && c.op != OpUpsert {
			return true
		}
	}
	return false
}

// writeRound handles one round of segments.
func (s *Sink) writeRound(ctx context.Context, b *batchState, round []*segment) {
	var todo, look []*segment
	for _, seg := range round {
		if contains(b.blocked, seg.key) {
			s.failSegment(b, seg, connectorlib.Retryable(errors.New("an earlier change to this record in the batch failed; retrying in order")))
			continue
		}
		todo = append(todo, seg)
		if s.needsLookup(seg) {
			look = append(look, seg)
		}
	}
	states, err := s.lookup(ctx, look)
	if err != nil {
		for _, seg := range look {
			s.failSegment(b, seg, err)
		}
		todo = without(todo, look)
		states = map[string]*recordState{}
	}
	looked := map[string]bool{}
	for _, seg := range look {
		looked[seg.key] = true
	}
	self := s.user()
	var ops []*writeOp
	for _, seg := range todo {
		st := states[seg.key]
		first := seg.changes[0]
		policy := s.cfg.policy(first.object)
		var winners []*change
		var fields []map[string]any
		for _, c := range seg.changes {
			r := resolve(policy, s.cfg.ConflictWindow, self, c, st)
			if r.outcome != "" {
				s.metrics.conflicts.WithLabelValues(s.metrics.connector, c.object, r.outcome).Inc()
			}
			if r.outcome == OutcomeWebAppLost || r.outcome == OutcomeFieldsLost {
				s.addConflict(b, c, policy, r, st)
			}
			if r.apply {
				winners = append(winners, c)
				fields = append(fields, r.fields)
			}
		}
		if len(winners) == 0 {
			continue
		}
		op := fold(winners, fields)
		if op.id == "" && st != nil {
			op.id = st.id
		}
		if st != nil && st.full && op.op != OpDelete {
			for f, v := range op.fields {
				if cur, ok := st.values[f]; ok && sameValue(cur, v) {
					delete(op.fields, f)
				}
			}
			if len(op.fields) == 0 {
				// Salesforce already holds every value: writing would only
				// cause a change event and spend budget.
				s.metrics.unchanged.WithLabelValues(s.metrics.connector, op.object).Inc()
				continue
			}
		}
		if st == nil && looked[seg.key] {
			switch {
			case op.op == OpDelete && op.id == "":
				continue // already gone: nothing to delete
			case op.op == OpUpdate && op.id == "":
				err := connectorlib.PermanentCode(CodeNotFound, fmt.Errorf("update %s %s=%s: no such record", op.object, op.extField, op.extID))
				for _, i := range op.indexes {
					s.fail(b, i, err)
				}
				continue
			}
		}
		ops = append(ops, op)
	}
	s.writeOps(ctx, b, ops)
}

// addConflict queues the conflict record of a losing change.
func (s *Sink) addConflict(b *batchState, c *change, policy string, r resolution, st *recordState) {
	sf := map[string]any{"Id": st.id, "LastModifiedDate": st.values["LastModifiedDate"], "LastModifiedById": st.lastModifiedBy}
	for f := range c.fields {
		if v, ok := st.values[f]; ok {
			sf[f] = v
		}
	}
	rec := b.batch[c.idx]
	b.conflicts = append(b.conflicts, Conflict{
		Connector: s.metrics.connector, Policy: policy, Outcome: r.outcome, SObject: c.object, LostFields: r.lost,
		WebApp: c.src, Salesforce: sf, DetectedAt: s.now().UTC(),
		Source: ConflictSource{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset},
		key:    rec.Key,
	})
	b.conflictI = append(b.conflictI, c.idx)
}

// flushConflicts stores the batch's conflict records before Write returns.
// If that fails, the losing changes are reported as retryably failed, so
// they are not committed without their record (a retry decides them
// again).
func (s *Sink) flushConflicts(ctx context.Context, b *batchState) error {
	if len(b.conflicts) == 0 {
		return nil
	}
	err := s.deps.Conflicts.WriteConflicts(ctx, b.conflicts)
	if err == nil {
		return nil
	}
	err = connectorlib.Retryable(fmt.Errorf("store conflicts: %w", err))
	for _, i := range b.conflictI {
		s.fail(b, i, err)
	}
	return nil
}

// apiCall runs one Salesforce request through the budget governor and the
// circuit breaker, and counts it.
func (s *Sink) apiCall(ctx context.Context, kind string, records int, fn func(ctx context.Context) error) error {
	if err := s.gov.wait(ctx); err != nil {
		return connectorlib.Retryable(fmt.Errorf("wait for the API budget: %w", err))
	}
	if ok, wait := s.breaker.allow(); !ok {
		s.metrics.breakerOpen.WithLabelValues(s.metrics.connector).Set(1)
		return connectorlib.Throttled(fmt.Errorf("%w: next try in %v", ErrBreakerOpen, wait.Round(time.Millisecond)), wait)
	}
	err := fn(ctx)
	s.countCall(kind, records, 1)
	s.breaker.result(overloaded(err))
	open := 0.0
	if s.breaker.open() {
		open = 1
	}
	s.metrics.breakerOpen.WithLabelValues(s.metrics.connector).Set(open)
	return err
}

// countCall counts calls API requests of kind that wrote records.
func (s *Sink) countCall(kind string, records, calls int) {
	s.metrics.calls.WithLabelValues(s.metrics.connector, kind).Add(float64(calls))
	if records > 0 {
		s.metrics.recordsPerCall.WithLabelValues(s.metrics.connector, kind).Observe(float64(records))
	}
	if used, max, ok := s.rest.APIUsage(); ok {
		s.gov.observe(used, max)
		s.metrics.budgetLeft.WithLabelValues(s.metrics.connector).Set(float64(max - used))
		s.metrics.budgetLimit.WithLabelValues(s.metrics.connector).Set(float64(max))
	}
}

// overloaded reports whether err is Salesforce saying "not now": the
// daily budget is spent (403 REQUEST_LIMIT_EXCEEDED), too many requests
// (429) or the service is unavailable (503).
func overloaded(err error) bool {
	var ae *sfapi.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusTooManyRequests ||
		(ae.Status == http.StatusForbidden && ae.Code == sfapi.CodeRequestLimitExceeded)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// without returns the segments of all that are not in drop.
func without(all, drop []*segment) []*segment {
	out := all[:0:0]
	for _, s := range all {
		found := false
		for _, d := range drop {
			if s == d {
				found = true
				break
			}
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}
