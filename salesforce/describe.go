package salesforce

// SObjectDescribe is the REST describe of an sObject
// (GET /services/data/vXX.X/sobjects/{name}/describe), reduced to what
// sfconnect uses. Field order is significant: Change Data Capture schemas
// follow it.
type SObjectDescribe struct {
	Name        string  `json:"name"`
	Label       string  `json:"label"`
	LabelPlural string  `json:"labelPlural"`
	KeyPrefix   string  `json:"keyPrefix"`
	Custom      bool    `json:"custom"`
	Createable  bool    `json:"createable"`
	Updateable  bool    `json:"updateable"`
	Deletable   bool    `json:"deletable"`
	Queryable   bool    `json:"queryable"`
	Fields      []Field `json:"fields"`
}

// Field is one field of an SObjectDescribe.
type Field struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Type is the Salesforce field type: id, string, textarea, picklist,
	// multipicklist, reference, boolean, int, long, double, currency,
	// percent, date, datetime, time, email, phone, url, address, location.
	Type   string `json:"type"`
	Length int    `json:"length,omitempty"`
	// Precision and Scale apply to numeric types.
	Precision int  `json:"precision,omitempty"`
	Scale     int  `json:"scale,omitempty"`
	Nillable  bool `json:"nillable"`
	// Createable and Updateable tell whether the API may set the field.
	Createable bool `json:"createable"`
	Updateable bool `json:"updateable"`
	// DefaultedOnCreate fields are filled by the platform when not given.
	DefaultedOnCreate bool `json:"defaultedOnCreate"`
	// ExternalID and IDLookup fields can be used to upsert by.
	ExternalID bool `json:"externalId"`
	IDLookup   bool `json:"idLookup"`
	Unique     bool `json:"unique"`
	// Calculated marks formula fields, never part of change events.
	Calculated bool `json:"calculated"`
	// CompoundFieldName names the compound field (for example
	// BillingAddress) this field is a component of.
	CompoundFieldName string `json:"compoundFieldName,omitempty"`
	// ReferenceTo lists the objects a reference field points at.
	ReferenceTo []string `json:"referenceTo,omitempty"`
	// PicklistValues lists the allowed values of a picklist.
	PicklistValues []PicklistValue `json:"picklistValues,omitempty"`
}

// PicklistValue is one allowed value of a picklist field.
type PicklistValue struct {
	Value  string `json:"value"`
	Label  string `json:"label"`
	Active bool   `json:"active"`
}

// Field returns the field named name (case-insensitively, as Salesforce
// resolves names) and whether it exists.
func (d *SObjectDescribe) Field(name string) (*Field, bool) {
	for i := range d.Fields {
		if equalFold(d.Fields[i].Name, name) {
			return &d.Fields[i], true
		}
	}
	return nil, false
}

// equalFold compares ASCII names case-insensitively.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
