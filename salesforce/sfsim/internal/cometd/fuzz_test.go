package cometd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fuzzSeeds are real message shapes from faye and cometd, and broken ones.
var fuzzSeeds = []string{
	`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["in-process","websocket","long-polling"],"id":"1"}]`,
	`[{"channel":"/meta/handshake","version":"1.0","minimumVersion":"1.0","supportedConnectionTypes":["long-polling","callback-polling"],"advice":{"timeout":60000,"interval":0},"id":"1"}]`,
	`[{"channel":"/meta/connect","clientId":"abc","connectionType":"long-polling","id":"2","advice":{"timeout":0}}]`,
	`[{"channel":"/meta/subscribe","clientId":"abc","subscription":"/event/Order__e","id":"3","ext":{"replay":{"/event/Order__e":-2}}}]`,
	`[{"channel":"/meta/subscribe","clientId":"abc","subscription":["/a","/b"],"ext":{"replay":{"/a":"12","/b":null}}}]`,
	`[{"channel":"/meta/handshake","id":1},{"channel":"/meta/connect","clientId":"x","connectionType":"long-polling"},{"channel":"/meta/subscribe","subscription":"/data/AccountChangeEvent","ext":{"replay":{"/data/AccountChangeEvent":1e99}}}]`,
	`{"channel":"/meta/disconnect","clientId":"abc","id":"9"}`,
	`[1,"x",null,[],{}]`,
	`[{"channel":5,"id":{"a":1},"subscription":7,"ext":[],"advice":"no","supportedConnectionTypes":"long-polling"}]`,
	`[`, `{`, ``, `null`, `[{"channel":"/meta/subscribe","subscription":[1,2]}]`,
}

func FuzzParseMessages(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := parseMessages(body)
		if err != nil {
			return
		}
		for _, m := range msgs {
			// Everything a reply echoes must encode.
			if _, err := json.Marshal(newReply(m)); err != nil {
				t.Fatalf("reply to %q does not encode: %v", body, err)
			}
			if chs, ok := m.channels(); ok && len(chs) == 0 {
				t.Fatalf("well-formed subscription without channels: %q", body)
			}
			for ch := range m.replay {
				_, _, _ = m.replayValue(ch)
			}
		}
	})
}

// FuzzHandler sends arbitrary bodies, after a handshake whose clientId the
// fuzzer can reach through the "CID" placeholder, and checks that every
// answer is a JSON array with HTTP 200, or HTTP 400 for a body that is not
// JSON.
func FuzzHandler(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[{"channel":"/meta/connect","clientId":"CID","connectionType":"long-polling"},{"channel":"/meta/subscribe","clientId":"CID","subscription":"/event/Order__e","ext":{"replay":{"/event/Order__e":-2}}}]`))
	f.Add([]byte(`[{"channel":"/meta/unsubscribe","clientId":"CID","subscription":["/event/Order__e"]},{"channel":"/meta/disconnect","clientId":"CID"}]`))
	e := newEnv(f, func(c *Config) { c.LongPollTimeout = time.Millisecond })
	e.publishOrder(1)
	f.Fuzz(func(t *testing.T, body []byte) {
		hs := httptest.NewRecorder()
		e.h.ServeHTTP(hs, newPost(e, []byte(`[{"channel":"/meta/handshake"}]`), ""))
		var replies []map[string]any
		if err := json.Unmarshal(hs.Body.Bytes(), &replies); err != nil || len(replies) != 1 {
			t.Fatalf("handshake: %s", hs.Body.Bytes())
		}
		cid, _ := replies[0]["clientId"].(string)
		cookie := hs.Result().Cookies()[0].Value

		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, newPost(e, bytes.ReplaceAll(body, []byte("CID"), []byte(cid)), cookie))
		// Leave, so sessions do not pile up over millions of runs.
		e.h.ServeHTTP(httptest.NewRecorder(), newPost(e, []byte(`{"channel":"/meta/disconnect","clientId":"`+cid+`"}`), cookie))
		switch rec.Code {
		case http.StatusOK:
			var out []json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("HTTP 200 without a JSON array: %v: %s", err, rec.Body.Bytes())
			}
		case http.StatusBadRequest:
			if _, err := parseMessages(body); err == nil {
				t.Fatalf("HTTP 400 for a parsable body %q", body)
			}
		default:
			t.Fatalf("HTTP %d for %q", rec.Code, body)
		}
	})
}

func newPost(e *env, body []byte, cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/cometd/62.0", bytes.NewReader(body))
	r.Header.Set("Authorization", "OAuth "+e.token)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	return r
}
