package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// GenerateWebApp makes web-app traffic until ctx is done: perSecond times a
// second, the web application changes the employee count of an Account its
// container holds, through the same path as the page's web-app form. The
// Salesforce generator edits the same field, so some of these lose a
// conflict, which the status panel counts.
func (s *Server) GenerateWebApp(ctx context.Context, perSecond float64) error {
	if !(perSecond > 0) || math.IsInf(perSecond, 1) {
		return fmt.Errorf("generate web-app traffic: rate must be positive and finite, got %v", perSecond)
	}
	t := time.NewTicker(max(time.Duration(float64(time.Second)/perSecond), time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		s.mu.Lock()
		ids := s.ids
		s.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		id := ids[rand.IntN(len(ids))]
		if err := s.publishChange(ctx, id, map[string]any{"employees": rand.IntN(1000)}); err != nil && ctx.Err() == nil {
			s.deps.Logger.Warn("web-app traffic: publish a change", "err", err)
		}
	}
}
