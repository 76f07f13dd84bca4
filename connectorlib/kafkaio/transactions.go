package kafkaio

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// transactionalKeys are the requests a transactional producer needs:
// InitProducerID to get a producer ID and epoch for its transactional ID,
// AddPartitionsToTxn to enlist partitions, and EndTxn to commit or abort.
var transactionalKeys = []kmsg.Key{kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.EndTxn}

// SupportsTransactions reports whether every broker in the cluster
// advertises, in its ApiVersions response, the requests a transactional
// producer needs (InitProducerID, AddPartitionsToTxn and EndTxn). It returns
// false, nil for a cluster without them, such as Azure Event Hubs Standard,
// and an error only if a broker could not be asked. It does not close cl.
func SupportsTransactions(ctx context.Context, cl *kgo.Client) (bool, error) {
	versions, err := kadm.NewClient(cl).ApiVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("request api versions: %w", err)
	}
	if len(versions) == 0 {
		return false, errors.New("request api versions: no broker answered")
	}
	for _, v := range versions.Sorted() {
		if v.Err != nil {
			return false, fmt.Errorf("request api versions from broker %d: %w", v.NodeID, v.Err)
		}
		for _, k := range transactionalKeys {
			if _, _, ok := v.KeyVersions(int16(k)); !ok {
				return false, nil
			}
		}
	}
	return true, nil
}
