package offsetstore

import (
	"context"
	"sync"
)

// Memory is an in-process Store for tests. The zero value is ready to use.
type Memory struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Load implements Store.
func (s *Memory) Load(context.Context) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.m))
	for k, v := range s.m {
		out[k] = append([]byte(nil), v...)
	}
	return out, nil
}

// Put implements Store.
func (s *Memory) Put(_ context.Context, positions map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	for k, v := range positions {
		s.m[k] = append([]byte(nil), v...)
	}
	return nil
}
