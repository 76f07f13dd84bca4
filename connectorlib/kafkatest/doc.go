// Package kafkatest gives tests a Kafka cluster: an in-process kfake
// cluster for the fast tier, and the real Apache Kafka broker that
// `make test` starts (scripts/kafka) for the integration tier.
//
// [Each] runs a test body once per available cluster kind, as subtests
// named "kfake" and "kafka". The real broker is announced by the
// environment variable TEST_KAFKA_BROKERS; when TEST_KAFKA_REQUIRED=1 is set
// (as `make test` does) a missing real broker fails the test instead of
// leaving the "kafka" subtest out.
package kafkatest
