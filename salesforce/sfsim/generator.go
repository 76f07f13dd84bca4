package sfsim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// industries are the values the traffic generator cycles through.
var industries = []string{"Agriculture", "Banking", "Technology", "Energy", "Retail", "Other"}

// Generate produces traffic until ctx is done: at perSecond changes a
// second, it creates Accounts and updates or deletes existing ones, as
// users editing in the UI would (no API origin). It returns ctx's error.
func (s *Sim) Generate(ctx context.Context, perSecond float64) error {
	if !(perSecond > 0) || math.IsInf(perSecond, 1) {
		return fmt.Errorf("generate: rate must be positive and finite, got %v", perSecond)
	}
	// Rates above 10^9/s would make a zero interval, which NewTicker
	// refuses with a panic.
	interval := max(time.Duration(float64(time.Second)/perSecond), time.Nanosecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	var ids []string
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		tx := s.org.Begin(org.Origin{})
		switch r := rand.IntN(10); {
		case len(ids) < 5 || r < 4:
			id, err := tx.Create("Account", map[string]any{
				"Name": fmt.Sprintf("Generated %d", n), "Industry": industries[n%len(industries)],
				"BillingCity": "Paris", "NumberOfEmployees": float64(10 + n%500),
			})
			if err == nil {
				ids = append(ids, id)
			}
		case r < 9:
			id := ids[rand.IntN(len(ids))]
			_ = tx.Update("Account", id, map[string]any{
				"Industry": industries[rand.IntN(len(industries))], "NumberOfEmployees": float64(rand.IntN(1000)),
			})
		default:
			i := rand.IntN(len(ids))
			_ = tx.Delete("Account", ids[i])
			ids = append(ids[:i], ids[i+1:]...)
		}
		tx.Commit()
	}
}
