package source

// JSONFastPath reports whether JSONEncoder writes env itself rather than
// handing it to encoding/json.
func JSONFastPath(env *Envelope) bool {
	_, ok := (&jsonScratch{}).appendEnvelope(nil, env)
	return ok
}
