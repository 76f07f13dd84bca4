// Package org is the simulated org's data: sObject describes, records,
// record ids, transactions with validation, the daily API budget, and the
// commit hook through which every write, whatever surface made it, becomes
// change events on the bus.
package org
