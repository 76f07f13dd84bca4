package pubsub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// The gRPC metadata every call carries (protocol reference §1.3). The
// official Go example and the Node client use the same three names.
const (
	mdAccessToken = "accesstoken"
	mdInstanceURL = "instanceurl"
	mdTenantID    = "tenantid"
)

// Transport keepalive. The server guarantees a FetchResponse on every open
// subscription within 270 s (a keepalive when there are no events), so a
// connection silent for longer than keepaliveTime is dead; the ping then
// has keepaliveTimeout to be answered. Pinging more often would be refused:
// grpc-go servers (sfsim among them) allow one ping per 5 minutes by
// default and close the connection after a few faster ones
// ("too_many_pings"). No pings without an active call.
const (
	keepaliveTime    = 5 * time.Minute
	keepaliveTimeout = 20 * time.Second
)

// recvBuffers is the pool gRPC reads messages into. grpc-go's default
// pool jumps from 32 KB to 1 MB buffers and clears a buffer's whole
// capacity on every Get: each FetchResponse of 100 change events (60 KB
// or so) cleared a megabyte. Tiers in powers of two up to 1 MB keep the
// clearing within twice the message's size; larger messages get buffers
// of their own size (grpc-go's fallback).
var recvBuffers = mem.NewTieredBufferPool(256, 4<<10, 16<<10, 32<<10, 64<<10, 128<<10, 256<<10, 512<<10, 1<<20)

// userAgent prefixes grpc-go's own user agent.
const userAgent = "sfconnect-pubsub"

// DialConfig configures [Dial].
type DialConfig struct {
	// Endpoint is the Pub/Sub API's host:port, for example
	// api.pubsub.salesforce.com:7443 or sim.GRPCAddr().
	Endpoint string
	// TLS configures TLS (for sfsim: RootCAs holding sim.CACertPEM()). Nil
	// means plaintext, which only sfsim started with sfsim.Plaintext()
	// speaks; Salesforce requires TLS.
	TLS *tls.Config
	// Tokens provides the session every call is authenticated with; see
	// [Client] for when it is invalidated.
	Tokens salesforce.TokenProvider
}

// Client is a Salesforce Pub/Sub API client over one gRPC connection. It is
// safe for concurrent use; create it with [Dial] and release it with Close.
//
// Authentication. Every call carries the metadata accesstoken, instanceurl
// and tenantid from DialConfig.Tokens.Session. When the server answers
// UNAUTHENTICATED, the client calls Tokens.Invalidate with the token it
// used and retries the call once with a fresh session; a second refusal is
// an error wrapping [ErrAuth]. For Subscribe the retry happens on the first
// [Subscription.Recv], where the server's answer arrives. Tokens never
// appear in errors.
//
// Errors wrap an [*Error] (gRPC code, error-code trailer, RPC id) in a
// connectorlib class marker: replay id errors wrap [ErrInvalidReplayID] and
// are permanent; UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED and
// stream resets are retryable; INVALID_ARGUMENT, NOT_FOUND and
// PERMISSION_DENIED are permanent with the error code. Errors of the token
// provider are returned wrapped, with the provider's own classification.
type Client struct {
	conn   *grpc.ClientConn
	api    pubsubpb.PubSubClient
	tokens salesforce.TokenProvider

	// life is cancelled by Close; subscriptions end with it.
	life   context.Context
	cancel context.CancelFunc

	schemaMu sync.Mutex
	schemas  map[string]*schemaEntry // by the server's schema id
}

// Dial returns a Client for cfg. It does not connect: the connection is
// made by the first call and re-made after failures by gRPC, so Dial fails
// only on an invalid cfg. ctx is not retained.
func Dial(ctx context.Context, cfg DialConfig) (*Client, error) {
	return dial(ctx, cfg)
}

// dial is Dial with extra gRPC options (tests add interceptors).
func dial(ctx context.Context, cfg DialConfig, extra ...grpc.DialOption) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dial pub/sub: %w", err)
	}
	var errs []error
	if strings.TrimSpace(cfg.Endpoint) == "" {
		errs = append(errs, errors.New("endpoint: required (host:port, for example api.pubsub.salesforce.com:7443)"))
	}
	if cfg.Tokens == nil {
		errs = append(errs, errors.New("tokens: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, connectorlib.Permanent(fmt.Errorf("dial pub/sub: %w: %w", ErrInvalidConfig, err))
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	opts := append([]grpc.DialOption{
		experimental.WithBufferPool(recvBuffers),
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.WithUserAgent(userAgent),
	}, extra...)
	conn, err := grpc.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, connectorlib.Permanent(fmt.Errorf("dial pub/sub %s: %w: %w", cfg.Endpoint, ErrInvalidConfig, err))
	}
	life, cancel := context.WithCancel(context.Background())
	return &Client{
		conn: conn, api: pubsubpb.NewPubSubClient(conn), tokens: cfg.Tokens,
		life: life, cancel: cancel, schemas: map[string]*schemaEntry{},
	}, nil
}

// Close ends every subscription of the client and closes its connection.
// Calls made afterwards fail with [ErrClosed]. It is idempotent.
func (c *Client) Close() error {
	if c.life.Err() != nil {
		return nil
	}
	c.cancel()
	if err := c.conn.Close(); err != nil && status.Code(err) != codes.Canceled {
		return fmt.Errorf("close pub/sub connection: %w", err)
	}
	return nil
}

// closed reports whether Close was called.
func (c *Client) closed() bool { return c.life.Err() != nil }

// session returns the current session from the token provider.
func (c *Client) session(ctx context.Context) (salesforce.Session, error) {
	sess, err := c.tokens.Session(ctx)
	if err != nil {
		return salesforce.Session{}, fmt.Errorf("get session: %w", err)
	}
	if sess.AccessToken == "" {
		return salesforce.Session{}, connectorlib.Permanent(fmt.Errorf("get session: %w: the token provider returned no access token", ErrAuth))
	}
	return sess, nil
}

// withSession returns ctx carrying the auth metadata of sess. When the
// session has no org id, the tenant id is the org id that starts an access
// token (the part before "!", 15 or 18 characters), as the Node client
// derives it.
func withSession(ctx context.Context, sess salesforce.Session) context.Context {
	tenant := sess.OrgID
	if tenant == "" {
		if prefix, _, ok := strings.Cut(sess.AccessToken, "!"); ok && (len(prefix) == 15 || len(prefix) == 18) {
			tenant = prefix
		}
	}
	return metadata.AppendToOutgoingContext(ctx,
		mdAccessToken, sess.AccessToken, mdInstanceURL, sess.InstanceURL, mdTenantID, tenant)
}

// unary runs one unary RPC, authenticated; on UNAUTHENTICATED it
// invalidates the token and runs it once more with a fresh session.
func (c *Client) unary(ctx context.Context, op string, call func(ctx context.Context, opts ...grpc.CallOption) error) error {
	if c.closed() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	reauthed := false
	for {
		sess, err := c.session(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		var trailer metadata.MD
		err = call(withSession(ctx, sess), grpc.Trailer(&trailer))
		if err == nil {
			return nil
		}
		if status.Code(err) == codes.Unauthenticated && !reauthed && ctx.Err() == nil {
			c.tokens.Invalidate(sess.AccessToken)
			reauthed = true
			continue
		}
		return mapRPCError(ctx, c.closed(), rpcFailure{op: op, err: err, trailer: trailer, reauthed: reauthed})
	}
}

// GetTopic describes a topic: whether the caller may subscribe or publish,
// and the id of its current schema (empty for multi-entity channels such as
// /data/ChangeEvents, whose events carry one schema per object).
func (c *Client) GetTopic(ctx context.Context, name string) (*pubsubpb.TopicInfo, error) {
	var info *pubsubpb.TopicInfo
	err := c.unary(ctx, "get topic "+name, func(ctx context.Context, opts ...grpc.CallOption) error {
		var err error
		info, err = c.api.GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: name}, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}
