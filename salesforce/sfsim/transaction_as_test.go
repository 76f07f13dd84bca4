package sfsim_test

import (
	"testing"

	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// TestSim_TransactionAs checks that changes made as another user name that
// user in CreatedById and LastModifiedById, that the integration user's
// later change names the integration user again, and that a malformed
// user id is refused before anything is written.
func TestSim_TransactionAs(t *testing.T) {
	s, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const person = "005000000000099AAA"
	var id string
	if err := s.TransactionAs(person, func(tx *sfsim.Tx) (err error) {
		id, err = tx.Create("Account", map[string]any{"Name": "by a person"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get("Account", id)
	if err != nil {
		t.Fatal(err)
	}
	if rec["CreatedById"] != person || rec["LastModifiedById"] != person {
		t.Errorf("created as %v, modified by %v; want %s", rec["CreatedById"], rec["LastModifiedById"], person)
	}
	if err := s.Update("Account", id, map[string]any{"Name": "by the integration"}); err != nil {
		t.Fatal(err)
	}
	rec, _ = s.Get("Account", id)
	if rec["LastModifiedById"] != s.UserID() || rec["CreatedById"] != person {
		t.Errorf("after the integration user's update: modified by %v, created by %v", rec["LastModifiedById"], rec["CreatedById"])
	}
	called := false
	if err := s.TransactionAs("not-a-user", func(*sfsim.Tx) error { called = true; return nil }); err == nil || called {
		t.Errorf("TransactionAs with a malformed user id: err %v, fn called %v", err, called)
	}
}
