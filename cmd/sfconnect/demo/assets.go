package demo

import (
	"embed"
	"io/fs"
)

// webFiles holds the page: plain HTML, JavaScript and CSS, no build step.
//
//go:embed web
var webFiles embed.FS

// assets returns the page's files rooted at web/.
func assets() fs.FS {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		// web/ is embedded at compile time; a missing directory is a build
		// mistake, not an input error.
		panic(err)
	}
	return sub
}
