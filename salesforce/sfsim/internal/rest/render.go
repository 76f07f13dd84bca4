package rest

import (
	"bytes"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// object is a JSON object that keeps its key order: records put attributes
// first and then their fields in describe or SELECT order, as Salesforce
// does.
type object []member

type member struct {
	key string
	val any
}

// MarshalJSON encodes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := marshal(m.val)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// sobjectPath is the URL path of an sObject resource.
func sobjectPath(version, typ string) string {
	return dataPrefix + "/v" + version + "/sobjects/" + typ
}

func recordPath(version, typ, id string) string {
	return sobjectPath(version, typ) + "/" + id
}

// attributes is a record's "attributes" member.
func attributes(version, typ, id string) object {
	a := object{{"type", typ}}
	if id != "" {
		a = append(a, member{"url", recordPath(version, typ, id)})
	}
	return a
}

// renderRecord renders rec with attributes and the given fields (all
// fields, in describe order, when fields is nil). Missing values are null;
// compound address and location fields are composed from their components.
func renderRecord(d *salesforce.SObjectDescribe, rec org.Record, version string, fields []string) object {
	id, _ := rec["Id"].(string)
	out := object{{"attributes", attributes(version, d.Name, id)}}
	if fields == nil {
		for i := range d.Fields {
			out = append(out, member{d.Fields[i].Name, fieldValue(d, &d.Fields[i], rec)})
		}
		return out
	}
	for _, name := range fields {
		if fl, ok := d.Field(name); ok {
			out = append(out, member{fl.Name, fieldValue(d, fl, rec)})
		}
	}
	return out
}

// fieldValue returns a record's value for fl, composing compound fields.
func fieldValue(d *salesforce.SObjectDescribe, fl *salesforce.Field, rec org.Record) any {
	if fl.Type != "address" && fl.Type != "location" {
		return rec[fl.Name]
	}
	prefix := strings.TrimSuffix(strings.TrimSuffix(fl.Name, "Address"), "__c")
	var parts map[string]any
	for i := range d.Fields {
		c := &d.Fields[i]
		if !strings.EqualFold(c.CompoundFieldName, fl.Name) {
			continue
		}
		key := strings.TrimPrefix(c.Name, prefix)
		key = strings.TrimSuffix(strings.TrimSuffix(key, "__s"), "__c")
		if key == "" {
			continue
		}
		key = strings.ToLower(key[:1]) + key[1:]
		if parts == nil {
			parts = map[string]any{}
		}
		parts[key] = rec[c.Name]
	}
	for _, v := range parts {
		if v != nil {
			return parts
		}
	}
	return nil
}

// sobjectSummary is an object's entry in describeGlobal and in the basic
// information resource.
func sobjectSummary(d *salesforce.SObjectDescribe, version string) map[string]any {
	base := sobjectPath(version, d.Name)
	return map[string]any{
		"activateable": false, "associateEntityType": nil, "associateParentEntity": nil,
		"createable": d.Createable, "custom": d.Custom, "customSetting": false,
		"deepCloneable": false, "deletable": d.Deletable, "deprecatedAndHidden": false,
		"feedEnabled": false, "hasSubtypes": false, "isInterface": false, "isSubtype": false,
		"keyPrefix": d.KeyPrefix, "label": d.Label, "labelPlural": d.LabelPlural,
		"layoutable": true, "mergeable": false, "mruEnabled": false, "name": d.Name,
		"queryable": d.Queryable, "replicateable": true, "retrieveable": true, "searchable": true,
		"triggerable": true, "undeletable": d.Deletable, "updateable": d.Updateable,
		"urls": map[string]any{
			"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}",
		},
	}
}

// renderDescribe renders the full describe of d. children are the describes
// of every object, for childRelationships.
func renderDescribe(d *salesforce.SObjectDescribe, version string, children []*salesforce.SObjectDescribe) map[string]any {
	out := sobjectSummary(d, version)
	fields := make([]map[string]any, len(d.Fields))
	for i := range d.Fields {
		fields[i] = renderField(&d.Fields[i])
	}
	var rels []map[string]any
	for _, c := range children {
		for i := range c.Fields {
			fl := &c.Fields[i]
			if fl.Type != "reference" || !containsFold(fl.ReferenceTo, d.Name) {
				continue
			}
			rels = append(rels, map[string]any{
				"cascadeDelete": false, "childSObject": c.Name, "deprecatedAndHidden": false,
				"field": fl.Name, "junctionIdListNames": []string{}, "junctionReferenceTo": []string{},
				"relationshipName": childRelationshipName(c, fl, d), "restrictedDelete": false,
			})
		}
	}
	if rels == nil {
		rels = []map[string]any{}
	}
	base := sobjectPath(version, d.Name)
	out["actionOverrides"] = []any{}
	out["childRelationships"] = rels
	out["compactLayoutable"] = true
	out["defaultImplementation"] = nil
	out["extendedBy"] = nil
	out["extendsInterfaces"] = nil
	out["fields"] = fields
	out["implementedBy"] = nil
	out["implementsInterfaces"] = nil
	out["listviewable"] = nil
	out["lookupLayoutable"] = nil
	out["namedLayoutInfos"] = []any{}
	out["networkScopeFieldName"] = nil
	out["recordTypeInfos"] = []any{}
	out["searchLayoutable"] = true
	out["sobjectDescribeOption"] = "FULL"
	out["supportedScopes"] = []any{map[string]any{"label": "All " + strings.ToLower(d.LabelPlural), "name": "everything"}}
	out["urls"] = map[string]any{
		"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}",
		"uiDetailTemplate": nil, "uiEditTemplate": nil, "uiNewRecord": nil,
	}
	return out
}

// childRelationshipName names the relationship from parent to child records
// through fl: ChildAccounts for Account.ParentId, otherwise the child's
// plural label without spaces (Contacts, Cases), or Xs__r for custom
// fields.
func childRelationshipName(child *salesforce.SObjectDescribe, fl *salesforce.Field, parent *salesforce.SObjectDescribe) any {
	if strings.HasSuffix(fl.Name, "__c") {
		return strings.TrimSuffix(strings.ReplaceAll(child.LabelPlural, " ", "_"), "__c") + "__r"
	}
	if child.Name == parent.Name {
		return "Child" + strings.ReplaceAll(child.LabelPlural, " ", "")
	}
	if fl.Name == "OwnerId" || fl.Name == "CreatedById" || fl.Name == "LastModifiedById" {
		return nil
	}
	return strings.ReplaceAll(child.LabelPlural, " ", "")
}

// soapTypes maps field types to their SOAP types, which jsforce's SOAP
// and type-casting code read.
var soapTypes = map[string]string{
	"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "long": "xsd:long",
	"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date",
	"datetime": "xsd:dateTime", "time": "xsd:time", "address": "urn:address", "location": "urn:location",
	"base64": "xsd:base64Binary",
}

// renderField renders one field with the attributes of salesforce.Field and
// the rest of Salesforce's field describe, derived from them.
func renderField(fl *salesforce.Field) map[string]any {
	soap := soapTypes[fl.Type]
	if soap == "" {
		soap = "xsd:string"
	}
	isText := soap == "xsd:string"
	longText := fl.Type == "textarea" && fl.Length > 255
	compound := fl.Type == "address" || fl.Type == "location"
	filterable := !longText && !compound
	digits := 0
	switch fl.Type {
	case "int":
		digits = 9
	case "long":
		digits = 18
	}
	precision, scale := fl.Precision, fl.Scale
	if precision == 0 && (fl.Type == "double" || fl.Type == "currency" || fl.Type == "percent") {
		precision, scale = 18, 2
	}
	byteLength := 0
	if isText || fl.Type == "id" || fl.Type == "reference" {
		byteLength = fl.Length * 3
	}
	picklist := []map[string]any{}
	for _, p := range fl.PicklistValues {
		picklist = append(picklist, map[string]any{"active": p.Active, "defaultValue": false, "label": p.Label, "validFor": nil, "value": p.Value})
	}
	refTo := fl.ReferenceTo
	if refTo == nil {
		refTo = []string{}
	}
	var relName any
	if fl.Type == "reference" {
		switch {
		case strings.HasSuffix(fl.Name, "__c"):
			relName = strings.TrimSuffix(fl.Name, "__c") + "__r"
		case strings.HasSuffix(fl.Name, "Id"):
			relName = strings.TrimSuffix(fl.Name, "Id")
		}
	}
	var compoundName any
	if fl.CompoundFieldName != "" {
		compoundName = fl.CompoundFieldName
	}
	var extraType any
	if fl.Type == "textarea" {
		extraType = "plaintextarea"
	}
	return map[string]any{
		"aggregatable": filterable && fl.Type != "boolean", "aiPredictionField": false, "autoNumber": false,
		"byteLength": byteLength, "calculated": fl.Calculated, "calculatedFormula": nil,
		"cascadeDelete": false, "caseSensitive": false, "compoundFieldName": compoundName,
		"controllerName": nil, "createable": fl.Createable, "custom": strings.HasSuffix(fl.Name, "__c"),
		"defaultValue": defaultValue(fl), "defaultValueFormula": nil, "defaultedOnCreate": fl.DefaultedOnCreate,
		"dependentPicklist": false, "deprecatedAndHidden": false, "digits": digits,
		"displayLocationInDecimal": false, "encrypted": false, "externalId": fl.ExternalID,
		"extraTypeInfo": extraType, "filterable": filterable, "filteredLookupInfo": nil,
		"formulaTreatNullNumberAsZero": false, "groupable": filterable && isText || fl.Type == "id" || fl.Type == "reference" || fl.Type == "boolean" || fl.Type == "date",
		"highScaleNumber": false, "htmlFormatted": false, "idLookup": fl.IDLookup, "inlineHelpText": nil,
		"label": fl.Label, "length": fl.Length, "mask": nil, "maskType": nil, "name": fl.Name,
		"nameField": fl.Name == "Name", "namePointing": false, "nillable": fl.Nillable, "permissionable": fl.Nillable && !fl.DefaultedOnCreate && fl.Createable,
		"picklistValues": picklist, "polymorphicForeignKey": len(fl.ReferenceTo) > 1, "precision": precision,
		"queryByDistance": false, "referenceTargetField": nil, "referenceTo": refTo,
		"relationshipName": relName, "relationshipOrder": nil, "restrictedDelete": false,
		"restrictedPicklist": false, "scale": scale, "searchPrefilterable": false, "soapType": soap,
		"sortable": filterable && fl.Type != "multipicklist", "type": fl.Type, "unique": fl.Unique,
		"updateable": fl.Updateable, "writeRequiresMasterRead": false,
	}
}

// defaultValue is the describe's defaultValue: false for checkboxes, null
// otherwise (the org has no other defaults).
func defaultValue(fl *salesforce.Field) any {
	if fl.Type == "boolean" {
		return false
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
