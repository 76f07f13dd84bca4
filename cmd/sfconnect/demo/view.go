package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// maxRows bounds the rows the page shows: the most recently modified
// Accounts.
const maxRows = 25

// Account is one Account as one side holds it.
type Account struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Industry  string `json:"industry"`
	City      string `json:"city"`
	Employees string `json:"employees"`
}

// Columns are the two sides, row i of each about the same record. A record
// a side does not hold (yet, or any more) has Present false there.
type Columns struct {
	Salesforce []Row `json:"salesforce"`
	WebApp     []Row `json:"webapp"`
	// SalesforceTotal and WebAppTotal count every Account each side holds.
	SalesforceTotal int `json:"salesforceTotal"`
	WebAppTotal     int `json:"webappTotal"`
}

// Row is one record on one side.
type Row struct {
	Account
	Present bool `json:"present"`
}

// Salesforce is what the page reads from and writes to the simulated org.
type Salesforce interface {
	Records(object string) ([]map[string]any, error)
	Update(object, id string, fields map[string]any) error
	APIUsage() (used, limit int)
}

// columns reads both sides: rows ordered by Salesforce's last
// modification, newest first, then records only the container holds.
func columns(ctx context.Context, sf Salesforce, container *azcosmos.ContainerClient) (Columns, error) {
	recs, err := sf.Records("Account")
	if err != nil {
		return Columns{}, fmt.Errorf("read Salesforce Accounts: %w", err)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := str(recs[i]["LastModifiedDate"]), str(recs[j]["LastModifiedDate"])
		if a != b {
			return a > b
		}
		return str(recs[i]["Id"]) > str(recs[j]["Id"])
	})
	docs, err := cosmosAccounts(ctx, container)
	if err != nil {
		return Columns{}, err
	}
	cols := Columns{SalesforceTotal: len(recs), WebAppTotal: len(docs)}
	shown := map[string]bool{}
	for _, r := range recs {
		if len(cols.Salesforce) == maxRows {
			break
		}
		a := account(r, str(r["Id"]))
		shown[a.ID] = true
		cols.Salesforce = append(cols.Salesforce, Row{Account: a, Present: true})
		d, ok := docs[a.ID]
		cols.WebApp = append(cols.WebApp, Row{Account: account(d, a.ID), Present: ok})
	}
	return cols, nil
}

// cosmosAccounts reads every Account document of the container, by id.
func cosmosAccounts(ctx context.Context, container *azcosmos.ContainerClient) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	pager := container.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the Cosmos container: %w", err)
		}
		for _, it := range page.Items {
			var d map[string]any
			if err := json.Unmarshal(it, &d); err != nil {
				return nil, fmt.Errorf("decode a Cosmos document: %w", err)
			}
			if id := str(d["id"]); id != "" && (d["sobject"] == nil || d["sobject"] == "Account") {
				out[id] = d
			}
		}
	}
	return out, nil
}

// account takes the shown fields of a record or document.
func account(m map[string]any, id string) Account {
	city := m["BillingCity"]
	// Change events carry address components under their compound field,
	// which the source writes as BillingAddress.City.
	if city == nil {
		city = m["BillingAddress.City"]
	}
	return Account{ID: id, Name: str(m["Name"]), Industry: str(m["Industry"]), City: str(city),
		Employees: str(m["NumberOfEmployees"])}
}

// str formats a field value for display; nil is empty.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return fmt.Sprintf("%g", v)
	default:
		return fmt.Sprint(v)
	}
}
