package cometd

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidConfig is wrapped by New when the Config is incomplete.
var ErrInvalidConfig = errors.New("invalid cometd config")

// Bayeux error strings, verbatim from Salesforce ("Streaming API Error Codes",
// "Handling Streaming API Errors"; protocol reference §4.1-§4.3). The ones
// with placeholders are filled by the functions below.
//
// Where the error table writes a placeholder in braces ({replay_id},
// {channel_name}, {connection_type}), the braces stay in the message and
// the value goes inside them: real replay errors read
// "400::The replayId {12} you provided was invalid.  …" (Salesforce's EMP
// Connector matches them with the regex `400::The replayId \{\d+} you
// provided was invalid.  …`, Apache Camel with `\{.*}`). The cookie error's
// placeholders have no braces in the table, and get none.
const (
	errHandshakeDenied   = "403::Handshake denied"
	errAuthInvalid       = "401::Authentication invalid"
	errAuthRequired      = "401::Request requires authentication"
	errUnknownClient     = "403::Unknown client"
	errMaxRequestSize    = "413::Maximum Request Size Exceeded"
	errVersionMissing    = "400::API version in the URI is mandatory. URI format: '/cometd/66.0'"
	errVersionOld        = "400::Unsupported API version. Only API versions '37.0' and later are supported. URI format: '/cometd/66.0'"
	errLeadingSlash      = "400::Channel subscriptions must start with a leading '/'"
	errNoChannelName     = "400::Channel name not specified"
	errNoHandshake       = "403::Client has not completed handshake"
	errChannelMissingFmt = "400::The channel you requested to subscribe to doesn't exist {%s}"
	errReplayFmt         = "400::The replayId {%s} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
	errConnTypeFmt       = "400::Invalid connection type {%s}"
	errNoCookieFmt       = "400::Client %s has established a session, but no " + cookieName + " cookie present"
)

// Errors for messages Salesforce documents no text for; they follow the
// CometD server's wording [UNVERIFIED against Salesforce].
const (
	errMissingChannel = "400::Missing channel"
	errBadMessage     = "400::Invalid message"
	errUnknownMeta    = "400::Unknown meta channel"
	errPublishDenied  = "403::Publish denied"
)

// errInvalidReplay is the subscribe error for a replay value, with the value
// as the client sent it.
func errInvalidReplay(value string) string {
	return fmt.Sprintf(errReplayFmt, value)
}

// errUnknownChannel is the subscribe error for a channel the org lacks.
func errUnknownChannel(channel string) string {
	return fmt.Sprintf(errChannelMissingFmt, channel)
}

// errConnectionType is the error for a connection type other than
// long-polling.
func errConnectionType(types ...string) string {
	return fmt.Sprintf(errConnTypeFmt, strings.Join(types, ","))
}
