package kafkaio

import "errors"

// ErrTopicNotCompacted is returned (wrapped) by EnsureTopics when a topic
// that must be compacted, such as an offsets topic, already exists without
// cleanup.policy=compact, or with a delete policy whose retention would drop
// keys that are not rewritten often enough. Positions stored in such a topic
// are eventually lost, so the connector must not start on it. Fix the topic
// (for example kafka-configs --alter --entity-type topics --entity-name NAME
// --add-config cleanup.policy=compact) or point the connector at another one.
var ErrTopicNotCompacted = errors.New("topic is not compacted")
