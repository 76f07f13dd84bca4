package connectorlib

import (
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
)

func joinSeeds(c *kafkatest.Cluster) string { return strings.Join(c.Seeds(), ",") }
