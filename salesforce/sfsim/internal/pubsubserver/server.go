package pubsubserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/auth"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// Defaults of the stream timers.
const (
	// DefaultIdleTimeout is how long a subscription that is owed nothing
	// may go without a FetchRequest: "within 60 seconds from when the last
	// FetchResponse was sent" (Pub/Sub flow control documentation).
	DefaultIdleTimeout = 60 * time.Second
	// DefaultKeepAlive is the longest a subscription goes without a
	// FetchResponse: "The empty fetch response is sent within 270 seconds"
	// (pubsub_api.proto, FetchResponse).
	DefaultKeepAlive = 270 * time.Second
)

// maxOutstanding caps the events a subscription can be owed: "The maximum
// number of events that can be requested in a Subscribe … call across all
// requests is 100".
const maxOutstanding = 100

// maxEventSize is the largest event payload Publish accepts: "maximum event
// message size 1 MB" (Platform Event allocations).
const maxEventSize = 1 << 20

// Authenticator checks an access token; *auth.Provider is one.
type Authenticator interface {
	// Validate returns the session of a live token, or an error.
	Validate(token string) (auth.Session, error)
}

// Call identifies the step of an RPC that [Config.Fault] is asked about.
type Call struct {
	// Method is the RPC name: Subscribe, GetTopic, GetSchema, Publish or
	// PublishStream.
	Method string
	// Topic is the topic of the call ("" for GetSchema).
	Topic string
	// Start is true for the call made when an RPC starts: unary calls,
	// Subscribe after its first FetchRequest, PublishStream at its first
	// request.
	Start bool
	// Delivered is, for Subscribe, the number of events sent on the stream
	// so far, and for PublishStream the number of requests answered so far;
	// 0 for unary calls.
	Delivered int
}

// Config configures a Server. Bus, Org and Auth are required.
type Config struct {
	// Bus is the event log subscriptions read and publishes append to.
	Bus *bus.Bus
	// Org provides object describes (for change event schemas), the org id
	// (TopicInfo.tenant_guid) and the user id.
	Org *org.Org
	// Auth validates the accesstoken metadata of every call.
	Auth Authenticator
	// InstanceURL returns the simulator's base URL. When set, the
	// instanceurl metadata must name the same scheme, host and port
	// (case-insensitively, trailing slash and path ignored).
	InstanceURL func() string
	// Now is the simulator's clock; nil means time.Now. Idle and keepalive
	// intervals are measured on it whenever the stream wakes up, so
	// advancing a simulated clock makes them expire at the next wake-up.
	Now func() time.Time
	// IdleTimeout closes a subscription that is owed no events and has sent
	// no FetchRequest for this long since its last FetchResponse with
	// events. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// KeepAlive is the longest a subscription goes without a FetchResponse;
	// when nothing is delivered for this long the server sends an empty
	// one. Zero means DefaultKeepAlive.
	KeepAlive time.Duration
	// PlatformEvents returns the defined platform events ("Order__e", or
	// "/event/Order__e") and their custom fields. Nil means none besides
	// the platform event channels the bus knows, which then have no custom
	// fields. It is called from many goroutines at once.
	PlatformEvents func() map[string][]salesforce.Field
	// Fault, when set, is called at the start of every RPC (after
	// authentication), before every Subscribe response carrying events, and
	// before every PublishStream response; see [Call]. A non-nil error fails
	// the RPC: an *Error as given, a gRPC status error unchanged, any other
	// error as UNAVAILABLE with the service-unavailable error code. It is
	// called from many goroutines at once.
	Fault func(Call) error
}

// Server implements the eventbus.v1.PubSub service. Register it with
// pubsubpb.RegisterPubSubServer or [Server.Register]. It is safe for
// concurrent use.
type Server struct {
	pubsubpb.UnimplementedPubSubServer

	cfg     Config
	schemas *registry
	events  *eventCache

	dropMu sync.Mutex
	drop   chan struct{} // closed by DropStreams, then replaced
}

// New returns a Server for cfg. It fails when Bus, Org or Auth is missing
// or a duration is negative.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Bus == nil {
		errs = append(errs, errors.New("bus: required"))
	}
	if cfg.Org == nil {
		errs = append(errs, errors.New("org: required"))
	}
	if cfg.Auth == nil {
		errs = append(errs, errors.New("auth: required"))
	}
	if cfg.IdleTimeout < 0 {
		errs = append(errs, errors.New("idle_timeout: must not be negative"))
	}
	if cfg.KeepAlive < 0 {
		errs = append(errs, errors.New("keep_alive: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(errors.New("pubsubserver: invalid config"), err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	return &Server{cfg: cfg, schemas: newRegistry(), events: newEventCache(defaultEventCacheSize), drop: make(chan struct{})}, nil
}

// DropStreams ends every open Subscribe and PublishStream stream with
// UNAVAILABLE and [pubsub.ErrorCodeServiceUnavailable], as a server restart
// would; clients must open new streams. Streams opened afterwards are not
// affected.
func (s *Server) DropStreams() {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	close(s.drop)
	s.drop = make(chan struct{})
}

// dropped returns the channel DropStreams closes for streams open now.
func (s *Server) dropped() <-chan struct{} {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	return s.drop
}

// errDropped ends a stream dropped by DropStreams.
var errDropped = &Error{Code: codes.Unavailable, ErrorCode: pubsub.ErrorCodeServiceUnavailable,
	Message: "the Pub/Sub service is unavailable (stream dropped); open a new stream"}

// Register registers s on gs as the eventbus.v1.PubSub service.
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	pubsubpb.RegisterPubSubServer(gs, s)
}

// ManagedSubscribe is not simulated: it answers UNIMPLEMENTED. The Node
// client uses it only for subscribeWithManagedSubscription, which also needs
// a Tooling API ManagedEventSubscription record the simulator does not have.
func (s *Server) ManagedSubscribe(stream grpc.BidiStreamingServer[pubsubpb.ManagedFetchRequest, pubsubpb.ManagedFetchResponse]) error {
	rpcID := newRPCID()
	if _, err := s.authenticate(stream.Context()); err != nil {
		return toStatus(err, rpcID, stream.SetTrailer)
	}
	return toStatus(newError(codes.Unimplemented, "",
		"ManagedSubscribe (beta) is not supported by sfsim: subscribe with Subscribe and keep the replay id yourself"), rpcID, stream.SetTrailer)
}

// fault asks the Fault hook about a call.
func (s *Server) fault(c Call) error {
	if s.cfg.Fault == nil {
		return nil
	}
	return s.cfg.Fault(c)
}

// newRPCID returns a random UUID-shaped RPC id.
func newRPCID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return formatUUID(b)
}

// formatUUID renders 16 bytes as 8-4-4-4-12 hex.
func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
