// Package all imports every Tagbridge driver for its side effect of
// registering itself with the drivers registry. cmd/tagbridge (and tests
// that need every driver) import it blank:
//
//	import _ "github.com/tagbridge/tagbridge/drivers/all"
//
// It holds no code of its own and is the only package that imports every
// driver; no driver imports it.
package all
