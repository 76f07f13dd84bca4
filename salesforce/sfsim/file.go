package sfsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/sfconnect/sfconnect/salesforce"
)

// FileConfig is the simulator's configuration file (JSON): custom objects,
// platform events and custom channels beyond the standard objects.
type FileConfig struct {
	// Objects are added to the standard ones; each needs a 3-character
	// KeyPrefix and its fields, Id and the system fields included.
	Objects []salesforce.SObjectDescribe `json:"objects"`
	// PlatformEvents maps an event name (Order__e) to its custom fields.
	PlatformEvents map[string][]salesforce.Field `json:"platformEvents"`
	// CustomChannels maps /data/<Name>__chn to the objects it carries.
	CustomChannels map[string][]string `json:"customChannels"`
}

// LoadFile reads a FileConfig and returns it as options. Unknown keys are
// errors, so a typo does not silently drop a definition.
func LoadFile(path string) ([]Opt, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read simulator config: %w", err)
	}
	var fc FileConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("parse simulator config %s: %w", path, err)
	}
	opts := []Opt{Objects(fc.Objects...)}
	for name, fields := range fc.PlatformEvents {
		opts = append(opts, PlatformEvent(name, fields...))
	}
	for ch, objects := range fc.CustomChannels {
		opts = append(opts, CustomChannel(ch, objects...))
	}
	return opts, nil
}
