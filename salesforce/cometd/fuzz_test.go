package cometd

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeMessages feeds arbitrary response bodies to the parser: it
// must never panic, and what it accepts must be consistent.
func FuzzDecodeMessages(f *testing.F) {
	for _, seed := range []string{
		`[{"ext":{"replay":true,"payload.format":true},"minimumVersion":"1.0","clientId":"l0s1u9zof06ofqqkdkk92jldqgmk","supportedConnectionTypes":["long-polling"],"channel":"/meta/handshake","id":"1","version":"1.0","successful":true}]`,
		`[{"channel":"/data/AccountChangeEvent","data":{"schema":"V2MGwDA2aIP0yQS98S2L6Q","payload":{"ChangeEventHeader":{"changeType":"CREATE"},"Name":"Acme"},"event":{"replayId":37904280}}},{"clientId":"c","advice":{"interval":0,"timeout":110000,"reconnect":"retry"},"channel":"/meta/connect","id":"2","successful":true}]`,
		`[{"data":{"schema":"dffQ2QLzDNHqwB8_sHMxdA","payload":{"CreatedDate":"2017-04-09T18:31:40.517Z"},"event":{"EventUuid":"2ec0e371","replayId":2}},"channel":"/event/Low_Ink__e"}]`,
		`[{"data":{"event":{"type":"created","createdDate":"2024-01-01T00:00:00.000Z","replayId":"5"},"sobject":{"Id":"001"}},"channel":"/topic/T"}]`,
		`[{"clientId":"i9","channel":"/meta/subscribe","id":"3","subscription":"/data/ChangeEvents","error":"400::The replayId {1} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.","successful":false}]`,
		`[{"ext":{"sfdc":{"failureReason":"401::Authentication invalid"}},"advice":{"reconnect":"none"},"channel":"/meta/handshake","error":"403::Handshake denied","successful":false}]`,
		`{"error":"403::Unknown client","successful":false,"advice":{"interval":0,"reconnect":"handshake"}}`,
		`[{"channel":"/x","data":{"event":{"replayId":-99999999999999999999}}}]`,
		`[{"advice":{"timeout":-1,"interval":1e400}}]`,
		``, `[`, `null`, `[null]`, `{}`, `[[]]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, replies, err := decodeMessages(body)
		if err != nil {
			if events != nil || replies != nil {
				t.Fatal("results returned with an error")
			}
			return
		}
		for _, m := range events {
			if m.Channel == "" || !json.Valid(m.Data) {
				t.Fatalf("event %+v: want a channel and valid JSON data", m)
			}
		}
		for i := range replies {
			r := &replies[i]
			if r.advice.interval < 0 || r.advice.interval > maxAdviceInterval || r.advice.timeout < 0 || r.advice.timeout > maxAdviceTimeout {
				t.Fatalf("advice out of bounds: %+v", r.advice)
			}
			e := r.toError(r.channel)
			_ = e.Error()
			_, _, _, _ = e.isAuthFailure(), e.isInvalidReplay(), e.sessionEnded(), e.retryable()
		}
		_ = findReply(replies, channelConnect, "1")
	})
}
