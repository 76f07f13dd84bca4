// Package kafkaio wires franz-go (kgo and kadm) from sfconnect's
// configuration.
//
// [Config] holds the broker, TLS, SASL and Azure Event Hubs settings read from
// SFCONNECT_KAFKA_* environment variables. [Config.Validate] reports every
// problem at once, each naming its variable, and [Config.Opts] turns a valid
// Config into client options:
//
//	opts, err := cfg.Opts()
//	if err != nil {
//		return err
//	}
//	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("out"))...)
//
// Secrets (SASL password, OAuth token, Event Hubs connection string) never
// appear in errors, in [Config.String] or in [Config.LogValue].
//
// [EnsureTopics] creates the topics a connector needs, and refuses to run on
// an existing offsets topic that is not compacted. [SupportsTransactions]
// tells whether the cluster offers the transactional APIs; Azure Event Hubs
// Standard does not.
package kafkaio
