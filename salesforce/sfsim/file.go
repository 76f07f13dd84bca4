package sfsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/bus"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
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
// errors, so a typo does not silently drop a definition, and so are
// definitions New would refuse (a key prefix that is not 3 characters or
// is taken, an event name without __e, a malformed channel name).
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
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse simulator config %s: invalid data after the top-level object", path)
	}
	if err := fc.validate(); err != nil {
		return nil, fmt.Errorf("invalid simulator config %s: %w", path, err)
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

// validate reports what New would refuse, with New's own checks, so that a
// bad file is a configuration error rather than a failed start.
func (fc *FileConfig) validate() error {
	var errs []error
	if _, err := org.New(org.Config{Objects: append(org.StandardObjects(), fc.Objects...)}); err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(fc.PlatformEvents)) {
		if !strings.HasSuffix(name, "__e") {
			errs = append(errs, fmt.Errorf("platform event %q: name must end in __e", name))
		}
	}
	b := bus.New(bus.Config{}, func() []string { return nil })
	for _, ch := range slices.Sorted(maps.Keys(fc.CustomChannels)) {
		if err := b.AddCustomChannel(ch); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
