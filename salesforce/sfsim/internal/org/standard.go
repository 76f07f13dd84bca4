package org

import "github.com/sfconnect/sfconnect/salesforce"

// field builders keep the standard describes below readable.
func f(name, typ string, length int) salesforce.Field {
	return salesforce.Field{Name: name, Label: name, Type: typ, Length: length, Nillable: true, Createable: true, Updateable: true}
}

func required(fl salesforce.Field) salesforce.Field { fl.Nillable = false; return fl }

func readOnly(fl salesforce.Field) salesforce.Field {
	fl.Createable, fl.Updateable = false, false
	fl.DefaultedOnCreate = true
	return fl
}

func ref(name string, to ...string) salesforce.Field {
	fl := f(name, "reference", 18)
	fl.ReferenceTo = to
	return fl
}

func externalID(name string) salesforce.Field {
	fl := f(name, "string", 255)
	fl.ExternalID, fl.IDLookup, fl.Unique = true, true, true
	return fl
}

func picklist(name string, values ...string) salesforce.Field {
	fl := f(name, "picklist", 255)
	for _, v := range values {
		fl.PicklistValues = append(fl.PicklistValues, salesforce.PicklistValue{Value: v, Label: v, Active: true})
	}
	return fl
}

func component(fl salesforce.Field, compound string) salesforce.Field {
	fl.CompoundFieldName = compound
	return fl
}

// address returns the components of an address compound named
// <prefix>Address, followed by the compound itself, in describe order.
func address(prefix string) []salesforce.Field {
	c := prefix + "Address"
	compound := readOnly(f(c, "address", 0))
	compound.DefaultedOnCreate = false
	return []salesforce.Field{
		component(f(prefix+"Street", "textarea", 255), c),
		component(f(prefix+"City", "string", 40), c),
		component(f(prefix+"State", "string", 80), c),
		component(f(prefix+"PostalCode", "string", 20), c),
		component(f(prefix+"Country", "string", 80), c),
		component(f(prefix+"Latitude", "double", 0), c),
		component(f(prefix+"Longitude", "double", 0), c),
		component(picklist(prefix+"GeocodeAccuracy", "Address", "NearAddress", "Block", "Street", "ExtendedZip", "Zip", "City", "County", "State", "Unknown"), c),
		compound,
	}
}

// personName returns the components of a Name compound and the compound.
func personName() []salesforce.Field {
	name := readOnly(f("Name", "string", 121))
	name.IDLookup = true
	return []salesforce.Field{
		component(required(f("LastName", "string", 80)), "Name"),
		component(f("FirstName", "string", 40), "Name"),
		component(picklist("Salutation", "Mr.", "Ms.", "Mrs.", "Dr.", "Prof."), "Name"),
		name,
	}
}

// systemFields are the fields the platform maintains on every object.
func systemFields() []salesforce.Field {
	return []salesforce.Field{
		ref("OwnerId", "User"),
		readOnly(f("CreatedDate", "datetime", 0)),
		readOnly(ref("CreatedById", "User")),
		readOnly(f("LastModifiedDate", "datetime", 0)),
		readOnly(ref("LastModifiedById", "User")),
		readOnly(f("SystemModstamp", "datetime", 0)),
	}
}

func newDescribe(name, prefix string, groups ...[]salesforce.Field) salesforce.SObjectDescribe {
	id := readOnly(f("Id", "id", 18))
	id.Nillable, id.IDLookup = false, true
	deleted := readOnly(f("IsDeleted", "boolean", 0))
	deleted.Nillable = false
	fields := []salesforce.Field{id, deleted}
	for _, g := range groups {
		fields = append(fields, g...)
	}
	return salesforce.SObjectDescribe{
		Name: name, Label: name, LabelPlural: name + "s", KeyPrefix: prefix,
		Custom:     len(name) > 3 && name[len(name)-3:] == "__c",
		Createable: true, Updateable: true, Deletable: true, Queryable: true, Fields: fields,
	}
}

// StandardObjects returns the describes the simulator is seeded with:
// Account, Contact, Opportunity, Case and Lead, each with the standard
// fields in Salesforce's describe order and an External_Id__c external id.
func StandardObjects() []salesforce.SObjectDescribe {
	account := newDescribe("Account", "001",
		[]salesforce.Field{
			required(f("Name", "string", 255)),
			picklist("Type", "Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other"),
			ref("ParentId", "Account"),
		},
		address("Billing"), address("Shipping"),
		[]salesforce.Field{
			f("Phone", "phone", 40), f("Fax", "phone", 40), f("AccountNumber", "string", 40),
			f("Website", "url", 255), f("Sic", "string", 20),
			picklist("Industry", "Agriculture", "Banking", "Technology", "Energy", "Retail", "Other"),
			f("AnnualRevenue", "currency", 0), f("NumberOfEmployees", "int", 0),
			picklist("Ownership", "Public", "Private", "Subsidiary", "Other"),
			f("TickerSymbol", "string", 20), f("Description", "textarea", 32000),
			picklist("Rating", "Hot", "Warm", "Cold"), f("Site", "string", 80),
		},
		systemFields(),
		[]salesforce.Field{externalID("External_Id__c")},
	)
	contact := newDescribe("Contact", "003",
		[]salesforce.Field{ref("AccountId", "Account")},
		personName(),
		address("Mailing"),
		[]salesforce.Field{
			f("Phone", "phone", 40), f("MobilePhone", "phone", 40), f("Email", "email", 80),
			f("Title", "string", 128), f("Department", "string", 80), f("Description", "textarea", 32000),
		},
		systemFields(),
		[]salesforce.Field{externalID("External_Id__c")},
	)
	opportunity := newDescribe("Opportunity", "006",
		[]salesforce.Field{
			ref("AccountId", "Account"), required(f("Name", "string", 120)), f("Description", "textarea", 32000),
			required(picklist("StageName", "Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")),
			f("Amount", "currency", 0), f("Probability", "percent", 0), required(f("CloseDate", "date", 0)),
			picklist("Type", "New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement"),
			picklist("LeadSource", "Web", "Phone Inquiry", "Partner Referral", "Other"),
		},
		systemFields(),
		[]salesforce.Field{externalID("External_Id__c")},
	)
	caseNumber := readOnly(f("CaseNumber", "string", 30))
	status := picklist("Status", "New", "Working", "Escalated", "Closed")
	status.DefaultedOnCreate = true
	kase := newDescribe("Case", "500",
		[]salesforce.Field{
			caseNumber, ref("ContactId", "Contact"), ref("AccountId", "Account"), f("Subject", "string", 255),
			status, picklist("Priority", "High", "Medium", "Low"), picklist("Origin", "Phone", "Email", "Web"),
			f("Description", "textarea", 32000),
		},
		systemFields(),
		[]salesforce.Field{externalID("External_Id__c")},
	)
	leadStatus := required(picklist("Status", "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"))
	leadStatus.DefaultedOnCreate = true
	lead := newDescribe("Lead", "00Q",
		personName(),
		[]salesforce.Field{
			required(f("Company", "string", 255)), f("Email", "email", 80), f("Phone", "phone", 40), leadStatus,
		},
		systemFields(),
		[]salesforce.Field{externalID("External_Id__c")},
	)
	return []salesforce.SObjectDescribe{account, contact, opportunity, kase, lead}
}
