package kafkaio_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
)

func TestSupportsTransactions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// strip lists API keys removed from the broker's ApiVersions
		// answer, as a broker without transactions would.
		strip []kmsg.Key
		want  bool
	}{
		{name: "kfake supports transactions", want: true},
		{name: "event hubs standard style broker", strip: []kmsg.Key{kmsg.AddPartitionsToTxn, kmsg.EndTxn}, want: false},
		{name: "no init producer id", strip: []kmsg.Key{kmsg.InitProducerID}, want: false},
		{name: "unrelated key missing", strip: []kmsg.Key{kmsg.DescribeACLs}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			cl := newClient(t, kafkaio.Config{Brokers: c.ListenAddrs()})
			ctx := ctxTimeout(t, 5*time.Second)

			if len(tt.strip) > 0 {
				vs, err := kadm.NewClient(cl).ApiVersions(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var keys []kmsg.ApiVersionsResponseApiKey
				for _, v := range vs {
					for _, k := range v.Raw().ApiKeys {
						if !slices.Contains(tt.strip, kmsg.Key(k.ApiKey)) {
							keys = append(keys, k)
						}
					}
					break // one broker
				}
				c.ControlKey(int16(kmsg.ApiVersions), func(r kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					req := r.(*kmsg.ApiVersionsRequest)
					resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
					resp.ApiKeys = keys
					return resp, nil, true
				})
			}

			got, err := kafkaio.SupportsTransactions(ctx, cl)
			if err != nil {
				t.Fatalf("SupportsTransactions() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("SupportsTransactions() = %v, want %v", got, tt.want)
			}
		})
	}
}
