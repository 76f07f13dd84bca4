package cdc

import "testing"

// accountCreatePayload is one Account CREATE event (every field set), the
// source's typical event.
func accountCreatePayload(b *testing.B) (*Schema, []byte) {
	s := mustSchema(b, docAccount())
	ev := &ChangeEvent{Header: Header{EntityName: "Account", RecordIDs: []string{"0018a0000000001AAA"}, ChangeType: ChangeTypeCreate,
		ChangeOrigin: "com/salesforce/api/rest/62.0;client=x", TransactionKey: "k", SequenceNumber: 1, CommitTimestamp: 1, CommitNumber: 2, CommitUser: "0058a0000000001AAA",
		ChangedFields: []string{}, NulledFields: []string{}, DiffFields: []string{}},
		Fields: map[string]any{"Name": "Acme", "Industry": "Banking", "Phone": "1",
			"BillingAddress": map[string]any{"City": "Paris", "Street": "1 rue"}}}
	payload, err := s.Encode(ev)
	if err != nil {
		b.Fatal(err)
	}
	return s, payload
}

// BenchmarkDecode_AccountCreate measures decoding one Account CREATE event
// into nested maps.
func BenchmarkDecode_AccountCreate(b *testing.B) {
	s, payload := accountCreatePayload(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFlat_AccountCreate measures the same event decoded by the
// compiled plan into a reused flat list, the source's per-event cost.
func BenchmarkDecodeFlat_AccountCreate(b *testing.B) {
	s, payload := accountCreatePayload(b)
	var ev FlatChange
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.DecodeFlat(payload, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
