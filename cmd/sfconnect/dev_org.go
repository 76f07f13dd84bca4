package main

import (
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// devPersonUserID is the simulated person who edits Accounts on the page's
// Salesforce side. The Salesforce sink treats the integration user's
// changes (every API session's, its own writes included) as known to the
// web application; a person's edits are the ones a web-app change can
// conflict with.
const devPersonUserID = "005000000000042AAA"

// devOrg is the simulated org as the page uses it: edits are made by
// devPersonUserID in the UI, with no API client.
type devOrg struct{ *sfsim.Sim }

// Update changes one record as the person.
func (o devOrg) Update(object, id string, fields map[string]any) error {
	return o.TransactionAs(devPersonUserID, func(tx *sfsim.Tx) error { return tx.Update(object, id, fields) })
}
