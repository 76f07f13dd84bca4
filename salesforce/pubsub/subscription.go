package pubsub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// MaxAppetite is the most events a subscription can be owed: "The maximum
// number of events that can be requested in a Subscribe … call across all
// requests is 100" (Pub/Sub flow control documentation).
const MaxAppetite = 100

// maxEventSize is the largest event Salesforce delivers: "maximum event
// message size 1 MB" (Platform Event allocations; CDC events are smaller).
// A FetchResponse carries at most the appetite in events, so a
// subscription accepts messages of appetite+1 MB (the extra MB for replay
// ids and framing) instead of gRPC's default 4 MB.
const maxEventSize = 1 << 20

// SubscribeConfig configures [Client.Subscribe].
type SubscribeConfig struct {
	// Topic is the topic, for example /data/AccountChangeEvent,
	// /data/ChangeEvents or /event/Order__e.
	Topic string
	// Preset is where the subscription starts: LATEST (new events only,
	// the zero value), EARLIEST (the oldest retained event) or CUSTOM (after
	// ReplayID).
	Preset pubsubpb.ReplayPreset
	// ReplayID is required with CUSTOM and not allowed otherwise; delivery
	// starts after the event it names. It is opaque: pass back a
	// LatestReplayID or Event.ReplayID as received.
	ReplayID []byte
	// Appetite is the most events the subscription is owed at once, and so
	// the most it holds in memory besides what the caller holds; 1 to
	// MaxAppetite, 0 meaning MaxAppetite.
	Appetite int
}

// validate checks cfg and fills in defaults.
func (cfg SubscribeConfig) validate() (SubscribeConfig, error) {
	var errs []error
	if strings.TrimSpace(cfg.Topic) == "" {
		errs = append(errs, errors.New("topic: required (for example /data/AccountChangeEvent or /event/Order__e)"))
	}
	switch cfg.Preset {
	case pubsubpb.ReplayPreset_LATEST, pubsubpb.ReplayPreset_EARLIEST:
		if len(cfg.ReplayID) > 0 {
			errs = append(errs, fmt.Errorf("replay id: not allowed with replay preset %s; use CUSTOM to resume after a replay id", cfg.Preset))
		}
	case pubsubpb.ReplayPreset_CUSTOM:
		if len(cfg.ReplayID) == 0 {
			errs = append(errs, errors.New("replay id: required with replay preset CUSTOM"))
		}
	default:
		errs = append(errs, fmt.Errorf("replay preset: unknown value %d (want LATEST, EARLIEST or CUSTOM)", int32(cfg.Preset)))
	}
	switch {
	case cfg.Appetite == 0:
		cfg.Appetite = MaxAppetite
	case cfg.Appetite < 0 || cfg.Appetite > MaxAppetite:
		errs = append(errs, fmt.Errorf("appetite: must be between 1 and %d (0 means %d), got %d", MaxAppetite, MaxAppetite, cfg.Appetite))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, connectorlib.Permanent(fmt.Errorf("subscribe %s: %w: %w", cfg.Topic, ErrInvalidConfig, err))
	}
	return cfg, nil
}

// Event is one event of a [Batch]: ConsumerEvent with its ProducerEvent
// flattened. Decode it with [Client.DecodeChange] or
// [Client.DecodePlatform].
type Event struct {
	// ReplayID is the event's position; subscribe CUSTOM with it to resume
	// after the event. Opaque bytes.
	ReplayID []byte
	// SchemaID is the server's id of the payload's schema; see
	// [Client.Schema].
	SchemaID string
	// ID is the event's id: a platform event's EventUuid, a change event's
	// event id.
	ID string
	// Payload is the Avro binary event.
	Payload []byte
}

// Batch is one FetchResponse. A batch without events is a keepalive, sent
// when the topic is quiet; it still advances LatestReplayID.
type Batch struct {
	// Events are the delivered events, in replay order.
	Events []Event
	// LatestReplayID is the position the subscription has reached: store it
	// (after the events are durable) and resume after it with CUSTOM so a
	// quiet topic does not fall out of the retention window. Never empty
	// from Salesforce or sfsim.
	LatestReplayID []byte
	// PendingNumRequested is the number of events the server still owed
	// when it sent the batch. It lags the client's own count by the
	// FetchRequests in flight, so it never exceeds the appetite.
	PendingNumRequested int32
	// RPCID is the subscription's RPC id, for Salesforce support.
	RPCID string
}

// Keepalive reports whether b carries no events.
func (b Batch) Keepalive() bool { return len(b.Events) == 0 }

// recvResult is one outcome of the stream's Recv, handed from the reader
// goroutine to Recv.
type recvResult struct {
	resp *pubsubpb.FetchResponse
	err  error
}

// Subscription is one Subscribe stream. Recv and LatestReplayID must be
// called from one goroutine at a time; Close may be called from any
// goroutine, also while Recv blocks.
//
// Flow control. The subscription asks for Appetite events when it opens
// and, whenever a Recv leaves it owed half the appetite or less, asks for
// what brings it back to Appetite, so it is never owed more than Appetite
// (never more than MaxAppetite). Events are requested only from Recv: the
// gRPC stream's buffer holds at most the Appetite events owed, and a caller
// that is slow to call Recv stops the flow (backpressure) instead of
// accumulating events. Recv reads the stream only when called; if its ctx
// ends first, the response it was waiting for is kept for the next call,
// never dropped.
//
// Idle close. The server closes a subscription that is owed nothing and
// sends no FetchRequest within about 60 s of its last events. Because Recv
// renews the request as soon as a response is taken, that can only happen
// when the caller leaves more than about 60 s between taking the last owed
// events and calling Recv again; Recv then returns an error wrapping
// [ErrStreamClosed] (retryable): subscribe again with CUSTOM and the last
// stored replay id.
type Subscription struct {
	c        *Client
	topic    string
	op       string
	appetite int
	first    *pubsubpb.FetchRequest // resent when the stream is reopened

	ctx         context.Context // the stream's life; ends with Close or Client.Close
	cancel      context.CancelFunc
	stopOnClose func() bool // stops tying ctx to the client's life

	mu     sync.Mutex // guards stream and token, replaced on re-authentication
	stream grpc.BidiStreamingClient[pubsubpb.FetchRequest, pubsubpb.FetchResponse]
	token  string // the access token the stream was opened with

	want    chan struct{}   // Recv asks the reader for one response (capacity 1)
	results chan recvResult // the reader's answer (capacity 1)
	done    chan struct{}   // closed when the reader goroutine has exited

	closeOnce sync.Once

	// Recv's own state.
	waiting bool   // a want is outstanding; its result is still to be taken
	owed    int    // events requested and not yet taken by Recv
	latest  []byte // LatestReplayID of the last batch
	err     error  // the error that ended the subscription
}

// Subscribe opens a subscription to cfg.Topic. The configuration is
// checked first: CUSTOM needs a replay id, LATEST and EARLIEST refuse one,
// and Appetite must be 0 to MaxAppetite; such errors wrap
// [ErrInvalidConfig]. The stream is then opened and the first FetchRequest
// (topic, preset, replay id, Appetite) sent without waiting for an answer:
// the server's verdict on the topic, the replay id and the session comes
// with the first [Subscription.Recv]. ctx bounds opening only; the stream
// lives until Close (of the subscription or the client). The caller must
// Close the subscription.
func (c *Client) Subscribe(ctx context.Context, cfg SubscribeConfig) (*Subscription, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	op := "subscribe " + cfg.Topic
	if c.closed() {
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Subscription{
		c: c, topic: cfg.Topic, op: op, appetite: cfg.Appetite,
		first: &pubsubpb.FetchRequest{
			TopicName: cfg.Topic, ReplayPreset: cfg.Preset, ReplayId: cfg.ReplayID,
			// Invariant: never owed more than appetite ≤ MaxAppetite.
			NumRequested: int32(cfg.Appetite),
		},
		ctx: sctx, cancel: cancel, stopOnClose: context.AfterFunc(c.life, cancel),
		want: make(chan struct{}, 1), results: make(chan recvResult, 1), done: make(chan struct{}),
		owed: cfg.Appetite,
	}
	stop := context.AfterFunc(ctx, cancel) // ctx ending while opening aborts
	err = s.open(ctx)
	if !stop() && err == nil {
		err = fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if err != nil {
		cancel()
		s.stopOnClose()
		return nil, err
	}
	go s.read()
	return s, nil
}

// open gets a session (with ctx) and opens the stream (for the
// subscription's life), sending the first FetchRequest.
func (s *Subscription) open(ctx context.Context) error {
	sess, err := s.c.session(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", s.op, err)
	}
	stream, err := s.c.api.Subscribe(withSession(s.ctx, sess),
		grpc.MaxCallRecvMsgSize((s.appetite+1)*maxEventSize))
	if err != nil {
		return mapRPCError(ctx, s.ctx.Err() != nil, rpcFailure{op: s.op, err: err})
	}
	// io.EOF means the stream already ended; its status comes with Recv.
	if err := stream.Send(s.first); err != nil && !errors.Is(err, io.EOF) {
		return mapRPCError(ctx, s.ctx.Err() != nil, rpcFailure{op: s.op, err: err})
	}
	s.mu.Lock()
	s.stream, s.token = stream, sess.AccessToken
	s.mu.Unlock()
	return nil
}

// read is the reader goroutine: for each want, it reads one response from
// the stream and hands it (or the error that ended the stream) to Recv. If
// the stream is refused as UNAUTHENTICATED before its first response, it
// invalidates the token and reopens the stream once with a fresh session.
func (s *Subscription) read() {
	defer close(s.done)
	received, reauthed := false, false
	var rpcID string
	for {
		select {
		case <-s.want:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		stream, token := s.stream, s.token
		s.mu.Unlock()
		resp, err := stream.Recv()
		if err == nil {
			received = true
			rpcID = resp.GetRpcId()
			s.results <- recvResult{resp: resp}
			continue
		}
		if status.Code(err) == codes.Unauthenticated && !received && !reauthed && s.ctx.Err() == nil {
			reauthed = true
			s.c.tokens.Invalidate(token)
			if err = s.open(s.ctx); err == nil {
				s.want <- struct{}{} // still owed: read from the new stream
				continue
			}
			s.results <- recvResult{err: err}
			return
		}
		if status.Code(err) == codes.Unauthenticated && received {
			// The session ended under a running stream: make sure the next
			// Subscribe gets a fresh one.
			s.c.tokens.Invalidate(token)
		}
		s.results <- recvResult{err: mapRPCError(s.ctx, s.ctx.Err() != nil, rpcFailure{
			op: s.op, err: err, trailer: stream.Trailer(), rpcID: rpcID, reauthed: reauthed, midStream: received,
		})}
		return
	}
}

// Recv returns the next FetchResponse, blocking until the server sends one:
// events, or a keepalive (no events) when the topic is quiet. Each call
// delivers exactly one response, and, as described on [Subscription],
// renews the request when what is owed has dropped to half the appetite.
//
// When ctx ends first, Recv returns ctx's error and the subscription goes
// on. Any other error ends the subscription and is returned again by later
// calls: it wraps [ErrInvalidReplayID] (permanent; apply the replay
// policy), [ErrAuth], [ErrStreamClosed] (retryable) or an [*Error] classified
// as described on [Client]; after Close it wraps [ErrClosed]. A stream
// ended by the server delivers every response sent before the error first.
func (s *Subscription) Recv(ctx context.Context) (Batch, error) {
	if s.err != nil {
		return Batch{}, s.err
	}
	if s.ctx.Err() != nil {
		return Batch{}, s.closedError()
	}
	if !s.waiting {
		s.want <- struct{}{}
		s.waiting = true
	}
	var r recvResult
	select {
	case r = <-s.results:
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	case <-s.ctx.Done():
		return Batch{}, s.closedError()
	}
	s.waiting = false
	if r.err != nil {
		s.err = r.err
		return Batch{}, r.err
	}
	resp := r.resp
	b := Batch{
		Events:              make([]Event, len(resp.GetEvents())),
		LatestReplayID:      resp.GetLatestReplayId(),
		PendingNumRequested: resp.GetPendingNumRequested(),
		RPCID:               resp.GetRpcId(),
	}
	for i, ce := range resp.GetEvents() {
		pe := ce.GetEvent()
		b.Events[i] = Event{ReplayID: ce.GetReplayId(), SchemaID: pe.GetSchemaId(), ID: pe.GetId(), Payload: pe.GetPayload()}
	}
	if len(b.LatestReplayID) > 0 {
		s.latest = b.LatestReplayID
	}
	s.owed = max(s.owed-len(b.Events), 0)
	if s.owed <= s.appetite/2 {
		if err := s.request(s.appetite - s.owed); err != nil {
			// Deliver what arrived; the subscription ends with the next call.
			s.err = err
			s.cancel()
		}
	}
	return b, nil
}

// request asks for n more events: a FetchRequest with only the topic and
// num_requested (the replay fields count only in the first request).
func (s *Subscription) request(n int) error {
	s.mu.Lock()
	stream := s.stream
	s.mu.Unlock()
	// Invariant: owed + n == appetite ≤ MaxAppetite; never owe more.
	err := stream.Send(&pubsubpb.FetchRequest{TopicName: s.topic, NumRequested: int32(n)})
	if err != nil && !errors.Is(err, io.EOF) {
		return mapRPCError(s.ctx, s.ctx.Err() != nil, rpcFailure{op: s.op, err: err})
	}
	// On io.EOF the stream has ended and the next Recv returns its status;
	// count the events as owed anyway, the count dies with the stream.
	s.owed += n
	return nil
}

// closedError is the error of a subscription whose stream context ended:
// ErrClosed.
func (s *Subscription) closedError() error {
	return fmt.Errorf("%s: %w", s.op, ErrClosed)
}

// LatestReplayID returns the LatestReplayID of the last batch Recv
// returned (nil before the first), the position to resume after with
// CUSTOM once everything received is stored.
func (s *Subscription) LatestReplayID() []byte { return s.latest }

// Close ends the subscription, cancelling its stream, and waits for its
// goroutine to exit. A Recv blocked in another goroutine returns an error
// wrapping [ErrClosed]. It is idempotent and returns nil.
func (s *Subscription) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.stopOnClose()
		<-s.done
	})
	return nil
}
