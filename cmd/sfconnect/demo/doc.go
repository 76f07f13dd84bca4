// Package demo is the live page of `sfconnect dev`: two columns, Accounts
// as the simulated Salesforce org holds them and as the web application's
// Cosmos DB container holds them, updated over server-sent events; an edit
// form on each side; the echo count; and a status panel read from the
// connectors' metrics in the same process.
//
// An edit on the Salesforce side is a user's edit in the simulator, which
// reaches the container through the source, Kafka and the Cosmos sink. An
// edit on the web-app side publishes a web-app change envelope
// (schemas/webapp_change.avsc) to the web-app topic, which the Salesforce
// sink writes back; the source tags that write as the sink's own, so the
// container is updated while nothing goes back to the web application.
package demo
