package connectorlib

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

type kadmListed = kadm.ListedOffset

func joinSeeds(c *kafkatest.Cluster) string { return strings.Join(c.Seeds(), ",") }
