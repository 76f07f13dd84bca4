// Package salesforce is sfconnect's shared Salesforce API client, used by
// the source and the sinks: authentication, REST (sObjects, query,
// composite), and the shapes those APIs exchange, such as sObject
// describes. The simulator that fakes it lives beside it in sfsim.
package salesforce
